//! `POST /api/v1/batch`: up to 100 creates, updates and deletes across collections in one
//! transaction. All succeed or none is applied; an error names the failing operation. A create
//! may name itself (`"ref"`) so that later operations refer to the record it creates (see
//! [`refs`]).

mod refs;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fathom_core::ErrorCode;
use fathom_engine::{Planned, WriteKind};
use fathom_schema::{Collection, validate_create_with_id, validate_patch};
use fathom_store::{StoreErrorKind, StoredResponse, WriteOp, WriteResult};
use refs::Created;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::access::{Principal, check_new_record, refused_change, rule, visible_json};
use super::conditional;
use super::tenancy::{create_scope, take_tenant};
use super::write::WriteFailure;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope_with_id;
use crate::error::ApiError;
use crate::idempotency::{Begin, IdempotencyKey, Keyed, stored_json};

/// The most operations one batch may hold.
pub const MAX_OPERATIONS: usize = 100;

const OPERATION_KEYS: &[&str] = &["op", "collection", "id", "body", "ref", "ifMatch"];

fn shape_error(field: &str, detail: String, hint: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, detail.clone(), hint).with_field(
        field,
        "invalid_operation",
        detail,
    )
}

/// One operation as validated: the write, the reference name of a create, and the JSON body
/// its values came from when before-write hooks will see it.
type Operation = (WriteOp, Option<String>, Option<Map<String, Value>>);

/// Validates one operation and turns it into a write, with the reference name of a create.
fn operation(
    state: &AppState,
    principal: &Principal,
    created: &Created,
    index: usize,
    raw: &Value,
) -> Result<Operation, ApiError> {
    let at = |key: &str| format!("operations[{index}].{key}");
    let Some(object) = raw.as_object() else {
        return Err(shape_error(
            &format!("operations[{index}]"),
            format!("Operation {index} must be an object."),
            "Write {\"op\": \"create\", \"collection\": \"...\", \"body\": {...}}.",
        ));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !OPERATION_KEYS.contains(&k.as_str()))
    {
        return Err(shape_error(
            &at(key),
            format!("Operation {index} has an unknown key `{key}`."),
            "An operation takes op, collection, id, body, (on create) ref and (on update and delete) ifMatch.",
        ));
    }
    let collection = object
        .get("collection")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            shape_error(
                &at("collection"),
                format!("Operation {index} needs a `collection` string."),
                "Name the collection, such as \"products\".",
            )
        })?;
    let collection: Arc<Collection> =
        state
            .schema
            .collection(collection)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = state
                    .schema
                    .collections
                    .keys()
                    .map(String::as_str)
                    .collect();
                shape_error(
                    &at("collection"),
                    format!("Operation {index} names no known collection."),
                    &format!("The collections are: {}.", known.join(", ")),
                )
            })?;
    let id = || created.record_id(index, object.get("id"), &collection);
    let raw_body = || -> Result<&Map<String, Value>, ApiError> {
        object
            .get("body")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                shape_error(
                    &at("body"),
                    format!("Operation {index} needs a `body` object."),
                    "Put the record's fields in `body`.",
                )
            })
    };
    // The body with references to earlier creates replaced by their ids.
    let body = || -> Result<_, ApiError> {
        created.substitute(index, &state.schema, &collection, raw_body()?)
    };
    let op = object.get("op").and_then(Value::as_str).unwrap_or("");
    if op != "create" && object.contains_key("ref") {
        return Err(shape_error(
            &at("ref"),
            format!("Operation {index} is not a create, so it cannot take a `ref`."),
            "Only creates take a ref; refer to a created record with \"$ref:<name>\".",
        ));
    }
    if op == "create" && object.contains_key("ifMatch") {
        return Err(shape_error(
            &at("ifMatch"),
            format!("Operation {index} is a create, so it cannot take an `ifMatch`."),
            "Only updates and deletes take ifMatch: the ETag of the record they change.",
        ));
    }
    // The version an update or delete expects (`ifMatch`, the record's ETag as a string).
    let expected = |id: Uuid| -> Result<Option<i64>, ApiError> {
        let parsed = match object.get("ifMatch") {
            None => conditional::required(&collection, "ifMatch").map(|()| None),
            Some(Value::String(tag)) => {
                // The bare form (`<id>.<version>`, without the header's quotes) is taken too.
                let bare = !(tag.starts_with('"') || tag.starts_with("W/") || tag.trim() == "*");
                let tag = if bare {
                    format!("\"{tag}\"")
                } else {
                    tag.clone()
                };
                conditional::parse_if_match(&tag, id, "ifMatch").map(Some)
            }
            Some(_) => Err(shape_error(
                "ifMatch",
                format!("Operation {index} has an `ifMatch` that is not a string."),
                "Give the record's ETag as a string, as the `ETag` header carried it: \"ifMatch\": \"\\\"<id>.<version>\\\"\".",
            )),
        };
        parsed.map_err(|e| e.for_operation(index))
    };
    Ok(match op {
        "create" => {
            let name = created.new_name(index, object.get("ref"))?;
            let body = body()?;
            let (fields, tenant) =
                take_tenant(&collection, principal, &body).map_err(|e| e.for_operation(index))?;
            let create_rule = rule(
                &state.schema,
                &collection,
                "create",
                principal,
                Some(&fields),
            )
            .map_err(|e| e.for_operation(index))?;
            let (id, values) = validate_create_with_id(&collection, &fields)
                .map_err(|e| ApiError::validation(e).for_operation(index))?;
            check_new_record(&collection, principal, create_rule.as_ref(), &values)
                .map_err(|e| e.for_operation(index))?;
            let hooked = state
                .engine
                .hooked(&collection.name, WriteKind::Create)
                .then(|| fields.into_owned());
            // The id is fixed here, not by the store, so later operations can refer to it.
            let op = WriteOp::Create {
                id: Some(id.unwrap_or_else(Uuid::now_v7)),
                collection,
                values,
                tenant,
            };
            (op, name, hooked)
        }
        "update" => {
            let id = id()?;
            let body = body()?;
            let guard = rule(&state.schema, &collection, "update", principal, Some(&body))
                .map_err(|e| e.for_operation(index))?;
            let values = validate_patch(&collection, &body)
                .map_err(|e| ApiError::validation(e).for_operation(index))?;
            let expected_version = expected(id)?;
            let hooked = state
                .engine
                .hooked(&collection.name, WriteKind::Update)
                .then(|| body.into_owned());
            let op = WriteOp::Update {
                collection,
                id,
                values,
                guard,
                expected_version,
            };
            (op, None, hooked)
        }
        "delete" => {
            let guard = rule(&state.schema, &collection, "delete", principal, None)
                .map_err(|e| e.for_operation(index))?;
            let id = id()?;
            let expected_version = expected(id)?;
            let op = WriteOp::Delete {
                collection,
                id,
                guard,
                expected_version,
            };
            (op, None, None)
        }
        _ => {
            return Err(shape_error(
                &at("op"),
                format!("Operation {index} has no valid `op`."),
                "Use \"create\", \"update\" or \"delete\".",
            ));
        }
    })
}

/// Keeps the relations of a created or updated record inside its tenant; a record created by an
/// earlier operation counts when it is created in the same tenant.
async fn check_relations(
    state: &AppState,
    principal: &Principal,
    created: &Created,
    op: &WriteOp,
) -> Result<(), ApiError> {
    match op {
        WriteOp::Create {
            collection,
            values,
            tenant,
            ..
        } => {
            let scope = create_scope(principal, tenant.as_ref());
            state
                .engine
                .check_relation_tenants_in_batch(collection, &scope, None, values, &created.pending)
                .await
                .map_err(ApiError::from)
        }
        WriteOp::Update {
            collection,
            id,
            values,
            ..
        } => state
            .engine
            .check_relation_tenants_in_batch(
                collection,
                &principal.scope(),
                Some(*id),
                values,
                &created.pending,
            )
            .await
            .map_err(ApiError::from),
        WriteOp::Delete { .. } | WriteOp::Restore { .. } | WriteOp::Purge { .. } => Ok(()),
    }
}

pub async fn batch(
    State(state): State<AppState>,
    principal: Principal,
    key: IdempotencyKey,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let claim = match key.begin(&state, &principal, Some(&body)).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Run(claim) => claim,
    };
    if let Some(key) = body.keys().find(|k| k.as_str() != "operations") {
        return Err(shape_error(
            key,
            format!("A batch has only `operations`, not `{key}`."),
            "Send {\"operations\": [...]}.",
        ));
    }
    let operations = body
        .get("operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            shape_error(
                "operations",
                "A batch needs an `operations` array.".into(),
                "Send {\"operations\": [...]}.",
            )
        })?;
    if operations.is_empty() || operations.len() > MAX_OPERATIONS {
        return Err(shape_error(
            "operations",
            format!(
                "A batch holds 1 to {MAX_OPERATIONS} operations, not {}.",
                operations.len()
            ),
            "Split larger batches.",
        ));
    }
    let mut planned: Vec<Planned> = Vec::with_capacity(operations.len());
    let mut created = Created::default();
    for (index, raw) in operations.iter().enumerate() {
        let (op, name, hooked) = operation(&state, &principal, &created, index, raw)?;
        check_relations(&state, &principal, &created, &op)
            .await
            .map_err(|e| e.for_operation(index))?;
        let scope = match &op {
            WriteOp::Create { tenant, .. } => create_scope(&principal, tenant.as_ref()),
            _ => principal.scope(),
        };
        if let WriteOp::Create {
            id: Some(id),
            collection,
            ..
        } = &op
        {
            created.add(name, *id, &collection.name, scope.clone());
        }
        planned.push(Planned::new(op, hooked, scope));
    }
    let collections: Vec<Arc<Collection>> =
        planned.iter().map(|p| p.op.collection().clone()).collect();
    let ids: Vec<Option<Uuid>> = planned
        .iter()
        .map(|p| match &p.op {
            WriteOp::Create { id, .. } => *id,
            WriteOp::Update { id, .. }
            | WriteOp::Delete { id, .. }
            | WriteOp::Restore { id, .. }
            | WriteOp::Purge { id, .. } => Some(*id),
        })
        .collect();
    let on_error = |e: WriteFailure| {
        let index = e.operation;
        let api = match e.store {
            Some(StoreErrorKind::RuleViolation) => {
                let collection = index
                    .and_then(|i| collections.get(i))
                    .map_or("", |c| &c.name);
                refused_change(&principal, collection, e, ApiError::from)
            }
            Some(StoreErrorKind::PreconditionFailed { current }) => {
                match index.and_then(|i| ids.get(i).copied().flatten()) {
                    Some(id) => conditional::stale(id, current),
                    None => ApiError::from(e),
                }
            }
            Some(StoreErrorKind::NotFound) => ApiError::new(
                ErrorCode::RecordNotFound,
                "The record does not exist.",
                "Check the id; the record may have been deleted.",
            ),
            _ => ApiError::from(e),
        };
        match index {
            Some(index) => api.for_operation(index),
            None => api,
        }
    };
    let request_id = crate::request_id::current();
    let viewer = principal.clone();
    let shown = collections.clone();
    let render = move |results: &[WriteResult]| -> StoredResponse {
        let data: Vec<Value> = results
            .iter()
            .zip(&shown)
            .map(|(result, collection)| match result {
                WriteResult::Created(record) => json!({ "op": "create", "id": record.id.hyphenated().to_string(), "etag": conditional::record_etag(record.id, record.version), "record": visible_json(collection, &viewer, record) }),
                WriteResult::Updated(record) => json!({ "op": "update", "id": record.id.hyphenated().to_string(), "etag": conditional::record_etag(record.id, record.version), "record": visible_json(collection, &viewer, record) }),
                WriteResult::Deleted { id } => json!({ "op": "delete", "id": id.hyphenated().to_string() }),
            })
            .collect();
        let body = envelope_with_id(Value::Array(data), Map::new(), request_id.clone());
        stored_json(StatusCode::OK, &[], &body)
    };
    let keyed = Keyed::new(claim, render);
    let outcome = state
        .engine
        .write(&principal, principal.scope(), planned, keyed.options())
        .await;
    keyed.finish(&state, outcome, on_error).await
}
