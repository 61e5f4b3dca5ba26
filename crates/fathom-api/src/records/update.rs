//! `PATCH /api/v1/{collection}/{id}`: a partial update of the supplied fields, answered with
//! the record and its new `ETag`. `If-Match` makes it conditional on the version last read
//! (412 when stale; 428 without it where the collection requires it); an `Idempotency-Key`
//! makes a retry replay the first answer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use fathom_schema::{Collection, validate_patch};
use fathom_store::{StoredResponse, UnitOfWork, WriteOp, WriteResult};
use serde_json::Map;

use super::RecordPath;
use super::access::{Principal, refused_change, rule, visible_json};
use super::conditional::{if_match, record_etag};
use super::tenancy::check_relation_tenants;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope_with_id;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, stored_json};

pub async fn update(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
    headers: HeaderMap,
    key: IdempotencyKey,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers, &path.collection, path.id)?;
    let claim = match key.begin(&state, &principal, Some(&body)).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Run(claim) => claim,
    };
    let guard = rule(
        &state.schema,
        &path.collection,
        "update",
        &principal,
        Some(&body),
    )?;
    let values = validate_patch(&path.collection, &body).map_err(ApiError::validation)?;
    let scope = principal.scope();
    check_relation_tenants(&state, &path.collection, &scope, Some(path.id), &values).await?;
    let op = WriteOp::Update {
        collection: path.collection.clone(),
        id: path.id,
        values,
        guard,
        expected_version,
    };
    let render = render_updated(path.collection.clone(), principal.clone());
    idempotency::run_write(
        &state,
        &principal,
        claim,
        UnitOfWork::single(scope, op),
        render,
        |e| {
            refused_change(&principal, &path.collection.name, e, |e| {
                path.write_error(e)
            })
        },
    )
    .await
}

/// How a write that leaves one record in place (an update, a restore) is answered: 200 with the
/// record as `viewer` may see it and its new `ETag`; also what an idempotency key replays.
pub(super) fn render_updated(
    collection: Arc<Collection>,
    viewer: Principal,
) -> impl Fn(&[WriteResult]) -> StoredResponse + Send + Sync + 'static {
    let request_id = crate::request_id::current();
    move |results: &[WriteResult]| -> StoredResponse {
        let Some(WriteResult::Updated(record)) = results.first() else {
            return idempotency::unexpected();
        };
        let body = envelope_with_id(
            visible_json(&collection, &viewer, record),
            Map::new(),
            request_id.clone(),
        );
        stored_json(
            StatusCode::OK,
            &[(header::ETAG, record_etag(record.id, record.version))],
            &body,
        )
    }
}
