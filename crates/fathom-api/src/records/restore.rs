//! `POST /api/v1/{collection}/{id}/restore`: brings back a soft-deleted record (collections with
//! `soft_delete = true`), answered with the record and its new `ETag`. Whoever the collection's
//! `delete` rule lets delete a record may restore it (the rule is read on the deleted row);
//! a record that is not deleted, or not visible to the caller, is 404. The restore is an event
//! (`restore`) in the outbox. A unique value taken meanwhile by a live record is 409
//! `unique_violation`. `If-Match` and `Idempotency-Key` work as on PATCH.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use fathom_core::ErrorCode;
use fathom_store::{StoredResponse, UnitOfWork, WriteOp, WriteResult};
use serde_json::Map;

use super::RecordPath;
use super::access::{Principal, rule, visible_json};
use super::conditional::{if_match, record_etag};
use crate::AppState;
use crate::envelope::envelope_with_id;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, stored_json};

pub async fn restore(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
    headers: HeaderMap,
    key: IdempotencyKey,
) -> Result<Response, ApiError> {
    if !path.collection.soft_delete {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            format!(
                "The collection `{}` deletes records for good, so there is nothing to restore.",
                path.collection.name
            ),
            "Only collections declared with soft_delete = true keep deleted records.",
        ));
    }
    let expected_version = if_match(&headers, &path.collection, path.id)?;
    let claim = match key.begin(&state, &principal, None).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Run(claim) => claim,
    };
    let guard = rule(&state.schema, &path.collection, "delete", &principal, None)?;
    let op = WriteOp::Restore {
        collection: path.collection.clone(),
        id: path.id,
        guard,
        expected_version,
    };
    let request_id = crate::request_id::current();
    let (collection, viewer) = (path.collection.clone(), principal.clone());
    let render = move |results: &[WriteResult]| -> StoredResponse {
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
    };
    idempotency::run_write(
        &state,
        &principal,
        claim,
        UnitOfWork::single(principal.scope(), op),
        render,
        |e| path.write_error(e),
    )
    .await
}
