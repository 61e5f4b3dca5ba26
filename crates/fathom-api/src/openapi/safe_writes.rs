//! The parts of the document that describe safe writes: `ETag` on record responses, `If-Match`
//! (412, 428) on updates and deletes and `ifMatch` on batch operations, `If-None-Match` (304) on
//! reads. Applied to the operations `operations.rs` builds, so the record operations stay in
//! one place.

use fathom_schema::Collection;
use serde_json::{Map, Value, json};

use super::document::{component_ref, problem_responses};

const ETAG_FORM: &str = "`\"<id>.<version>\"`";

/// The `ETag` header components.
pub fn header_components() -> Map<String, Value> {
    let mut headers = Map::new();
    headers.insert(
        "ETag".into(),
        json!({
            "description": format!(
                "The record's strong ETag, {ETAG_FORM}: it changes with every change of the record. \
                 Send it back in `If-Match` to write only if nobody changed the record since, or in \
                 `If-None-Match` to read it only if it changed."
            ),
            "required": true,
            "schema": { "type": "string" },
        }),
    );
    headers.insert(
        "ListETag".into(),
        json!({
            "description": "A weak ETag of everything the page shows (its records, expanded relations, the next cursor and the count). Send it back in `If-None-Match` to get 304 while none of that changed.",
            "required": true,
            "schema": { "type": "string" },
        }),
    );
    headers
}

fn if_none_match() -> Value {
    json!({
        "name": "If-None-Match", "in": "header", "required": false,
        "description": "One or more ETags from earlier responses (weak or strong, comma-separated): answers 304 without a body while the current ETag is among them. A record read with `expand` is never answered 304. `*` is refused (400 `invalid_precondition`).",
        "schema": { "type": "string", "pattern": IF_NONE_MATCH_FORM },
    })
}

/// What `If-None-Match` accepts: one or more ETags, weak or strong, comma-separated.
const IF_NONE_MATCH_FORM: &str = r#"^(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*$"#;

/// What `If-Match` accepts: one strong ETag.
const IF_MATCH_FORM: &str = r#"^"[!#-~]+"$"#;

/// What `Idempotency-Key` accepts: a structured-field string of 1 to 255 characters (the
/// server also takes the `\"` and `\\` escapes, which this pattern leaves out).
const IDEMPOTENCY_KEY_FORM: &str = r#"^"[ !#-\[\]-~]{1,255}"$"#;

fn if_match(collection: &Collection) -> Value {
    let required = collection.require_if_match;
    json!({
        "name": "If-Match", "in": "header", "required": required,
        "description": format!(
            "The record's ETag ({ETAG_FORM}) as last read: the write happens only if the record is \
             still at that version, otherwise 412 `precondition_failed` with the current `ETag`. \
             One strong ETag: `*`, lists and weak ETags are refused (400 `invalid_precondition`).{}",
            if required {
                " This collection requires it (428 `precondition_required` without it)."
            } else {
                ""
            }
        ),
        "schema": { "type": "string", "pattern": IF_MATCH_FORM },
    })
}

fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "A structured-field string of 1 to 255 characters, such as `\"8e03978e-40d5-43e8-bc93-6894a57f9324\"`, unique per logical operation. The first response is stored with the write; a retry with the same key and request replays it (`Idempotent-Replayed: true`) and writes nothing; the same key on another request is 422 `idempotency_key_reused`; 409 `idempotency_key_in_flight` while the first is not yet readable. Keys are per caller (not for anonymous requests) and expire after `idempotency.ttl_secs` (24 hours by default). Malformed keys are 400 `invalid_idempotency_key`.",
        "schema": { "type": "string", "pattern": IDEMPOTENCY_KEY_FORM },
    })
}

/// Adds `Idempotency-Key` (and its 409 and 422) to a write operation.
fn idempotent(operation: &mut Value) {
    push_parameter(operation, idempotency_key());
    add_errors(operation, &[409, 422]);
    let replayed = json!({
        "description": "`true` on a response replayed for a retried `Idempotency-Key`.",
        "schema": { "type": "string", "enum": ["true"] },
    });
    if let Some(responses) = operation["responses"].as_object_mut() {
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2') {
                response["headers"]["Idempotent-Replayed"] = replayed.clone();
            }
        }
    }
}

fn not_modified(etag_component: &str) -> Value {
    json!({
        "description": "Not modified: the ETag sent in `If-None-Match` is current. No body.",
        "headers": {
            "ETag": component_ref("headers", etag_component),
            "X-Request-Id": component_ref("headers", "RequestId"),
        },
    })
}

fn push_parameter(operation: &mut Value, parameter: Value) {
    if let Some(parameters) = operation["parameters"].as_array_mut() {
        parameters.push(parameter);
    } else {
        operation["parameters"] = json!([parameter]);
    }
}

fn add_errors(operation: &mut Value, statuses: &[u16]) {
    if let Some(responses) = operation["responses"].as_object_mut() {
        responses.extend(problem_responses(statuses));
    }
}

/// Adds conditional requests to the two path items of a collection (`/api/v1/{c}` and
/// `/api/v1/{c}/{id}`, as `operations::collection_paths` returns them).
pub fn collection(collection: &Collection, paths: &mut [(String, Value); 2]) {
    let [(_, list_item), (_, record_item)] = paths;
    let list = &mut list_item["get"];
    push_parameter(list, if_none_match());
    if collection.soft_delete {
        push_parameter(
            list,
            json!({
                "name": "deleted", "in": "query", "required": false,
                "description": "Administrators only (403 otherwise): `only` lists the deleted records, `include` lists them with the live ones; `hide` (the default) lists live records. Restore one with `POST .../{id}/restore`.",
                "schema": { "type": "string", "enum": ["hide", "only", "include"] },
            }),
        );
    }
    list["responses"]["200"]["headers"]["ETag"] = component_ref("headers", "ListETag");
    list["responses"]["304"] = not_modified("ListETag");

    list_item["post"]["responses"]["201"]["headers"]["ETag"] = component_ref("headers", "ETag");

    let get = &mut record_item["get"];
    push_parameter(get, if_none_match());
    get["responses"]["200"]["headers"]["ETag"] = component_ref("headers", "ETag");
    get["responses"]["304"] = not_modified("ETag");

    for method in ["patch", "delete"] {
        let operation = &mut record_item[method];
        push_parameter(operation, if_match(collection));
        add_errors(operation, &[412, 428]);
    }
    record_item["patch"]["responses"]["200"]["headers"]["ETag"] = component_ref("headers", "ETag");
    idempotent(&mut list_item["post"]);
    idempotent(&mut record_item["patch"]);
    idempotent(&mut record_item["delete"]);
}

/// Adds `ifMatch` to the batch's update and delete operations, `etag` to its results, and the
/// 412 and 428 answers.
pub fn batch(path: &mut Value, request: &mut Value, response: &mut Value) {
    // `items` is `false` for a schema without collections: nothing to decorate then.
    let variants = request
        .pointer_mut("/properties/operations/items/anyOf")
        .and_then(Value::as_array_mut);
    for variant in variants.into_iter().flatten() {
        let op = variant["properties"]["op"]["const"].as_str().unwrap_or("");
        if op == "update" || op == "delete" {
            variant["properties"]["ifMatch"] = json!({
                "type": "string",
                "description": format!(
                    "The record's ETag ({ETAG_FORM}, quoted as the `ETag` header carries it): the \
                     operation, and so the batch, applies only if the record is still at that \
                     version (412 `precondition_failed` otherwise). Required on collections with \
                     `require_if_match` (428 `precondition_required`)."
                ),
            });
        }
    }
    response["properties"]["data"]["items"]["properties"]["etag"] = json!({
        "type": "string",
        "description": "The written record's ETag, for create and update.",
    });
    add_errors(&mut path["post"], &[412, 428]);
    idempotent(&mut path["post"]);
}

/// `POST /api/v1/{c}/{id}/restore`, on collections that keep deleted records.
pub fn restore_path(collection: &Collection, type_name: &str) -> Option<(String, Value)> {
    if !collection.soft_delete {
        return None;
    }
    let name = &collection.name;
    let mut ok = super::operations::ok(
        &format!("The restored `{name}` record."),
        super::operations::single_envelope(&format!("{type_name}Record")),
    );
    ok["headers"]["ETag"] = component_ref("headers", "ETag");
    let mut responses = Map::new();
    responses.insert("200".into(), ok);
    responses.extend(problem_responses(&[
        400, 401, 403, 404, 409, 412, 428, 500, 503, 504,
    ]));
    let mut operation = json!({
        "tags": [name],
        "operationId": format!("restore{type_name}"),
        "summary": format!("Restore a deleted record of {name}"),
        "description": "Brings back a soft-deleted record (its version grows by one) and records a `restore` event. Whoever the collection's delete rule lets delete the record may restore it; a record that is not deleted, or not visible, is 404; a unique value taken meanwhile by a live record is 409 `unique_violation`.",
        "parameters": [component_ref("parameters", "RecordId"), if_match(collection)],
        "responses": responses,
    });
    idempotent(&mut operation);
    Some((
        format!("/api/v1/{name}/{{id}}/restore"),
        json!({ "post": operation }),
    ))
}
