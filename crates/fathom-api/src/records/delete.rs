//! `DELETE /api/v1/{collection}/{id}`: soft where the collection says so; answers 204.
//! `If-Match` and `Idempotency-Key` work as on PATCH. The records engine does the rest
//! (`fathom_engine::Engine::delete`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::RecordPath;
use super::access::Principal;
use super::conditional::if_match;
use crate::AppState;
use crate::error::ApiError;
use crate::idempotency::{Begin, IdempotencyKey, Keyed, stored_empty};

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
    let keyed = Keyed::new(claim, |_| stored_empty(StatusCode::NO_CONTENT));
    let outcome = state
        .engine
        .delete(
            &principal,
            &path.collection,
            path.id,
            expected_version,
            keyed.options(),
        )
        .await;
    keyed.finish(&state, outcome, |e| path.write_error(e)).await
}
