//! `POST /api/v1/{collection}/{id}/restore`: brings back a soft-deleted record (collections with
//! `soft_delete = true`), answered with the record and its new `ETag`. Whoever the collection's
//! `delete` rule lets delete a record may restore it (the rule is read on the deleted row);
//! a record that is not deleted, or not visible to the caller, is 404. The restore is an event
//! (`restore`) in the outbox. A unique value taken meanwhile by a live record is 409
//! `unique_violation`. `If-Match` and `Idempotency-Key` work as on PATCH.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use fathom_core::ErrorCode;
use fathom_store::{UnitOfWork, WriteOp};

use super::RecordPath;
use super::access::{Principal, rule};
use super::conditional::if_match;
use crate::AppState;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey};

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
    let render = super::update::render_updated(path.collection.clone(), principal.clone());
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
