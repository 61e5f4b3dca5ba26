//! `DELETE /api/v1/{collection}/{id}`: soft where the collection says so; answers 204.
//! `If-Match` and `Idempotency-Key` work as on PATCH.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fathom_store::{UnitOfWork, WriteOp};

use super::RecordPath;
use super::access::{Principal, rule};
use super::conditional::if_match;
use crate::AppState;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, stored_empty};

pub async fn delete(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
    headers: HeaderMap,
    key: IdempotencyKey,
) -> Result<Response, ApiError> {
    let expected_version = if_match(&headers, &path.collection, path.id)?;
    let claim = match key.begin(&state, &principal, None).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Run(claim) => claim,
    };
    let guard = rule(&state.schema, &path.collection, "delete", &principal, None)?;
    let op = WriteOp::Delete {
        collection: path.collection.clone(),
        id: path.id,
        guard,
        expected_version,
    };
    idempotency::run_write(
        &state,
        &principal,
        claim,
        UnitOfWork::single(principal.scope(), op),
        |_| stored_empty(StatusCode::NO_CONTENT),
        |e| path.write_error(e),
    )
    .await
}
