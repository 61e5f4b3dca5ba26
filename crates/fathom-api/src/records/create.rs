//! `POST /api/v1/{collection}`: validate the body, create the record, answer 201 with `Location`
//! and `ETag`. The body may name the new record's `id` (a UUID); one that exists already is 409.
//! With an `Idempotency-Key`, a retry replays the first answer (see `crate::idempotency`).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use fathom_schema::validate_create_with_id;
use fathom_store::{StoredResponse, UnitOfWork, WriteOp, WriteResult};
use serde_json::Map;

use super::CollectionPath;
use super::access::{Principal, check_new_record, rule, visible_json};
use super::conditional::record_etag;
use super::tenancy::{check_relation_tenants, create_scope, take_tenant};
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope_with_id;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, stored_json};

pub async fn create(
    State(state): State<AppState>,
    CollectionPath(collection): CollectionPath,
    principal: Principal,
    key: IdempotencyKey,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let claim = match key.begin(&state, &principal, Some(&body)).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Run(claim) => claim,
    };
    let (fields, tenant) = take_tenant(&collection, &principal, &body)?;
    // Authorization comes first: a caller who may not create learns nothing from validation.
    let create_rule = rule(
        &state.schema,
        &collection,
        "create",
        &principal,
        Some(&fields),
    )?;
    let (id, values) =
        validate_create_with_id(&collection, &fields).map_err(ApiError::validation)?;
    check_new_record(&collection, &principal, create_rule.as_ref(), &values)?;
    let scope = create_scope(&principal, tenant.as_ref());
    check_relation_tenants(&state, &collection, &scope, None, &values).await?;
    let op = WriteOp::Create {
        id,
        collection: collection.clone(),
        values,
        tenant: None,
    };
    let request_id = crate::request_id::current();
    let viewer = principal.clone();
    let render = move |results: &[WriteResult]| -> StoredResponse {
        let Some(WriteResult::Created(record)) = results.first() else {
            return idempotency::unexpected();
        };
        let location = format!("/api/v1/{}/{}", collection.name, record.id.hyphenated());
        let body = envelope_with_id(
            visible_json(&collection, &viewer, record),
            Map::new(),
            request_id.clone(),
        );
        stored_json(
            StatusCode::CREATED,
            &[
                (header::LOCATION, location),
                (header::ETAG, record_etag(record.id, record.version)),
            ],
            &body,
        )
    };
    idempotency::run_write(
        &state,
        &principal,
        claim,
        UnitOfWork::single(scope, op),
        render,
        ApiError::from,
    )
    .await
}
