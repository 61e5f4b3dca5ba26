//! `POST /api/v1/{collection}/{id}/restore`: brings back a soft-deleted record (collections with
//! `soft_delete = true`), answered with the record and its new `ETag`. Whoever the collection's
//! `delete` rule lets delete a record may restore it (the rule is read on the deleted row);
//! a record that is not deleted, or not visible to the caller, is 404. The restore is an event
//! (`restore`) in the outbox. A unique value taken meanwhile by a live record is 409
//! `unique_violation`. `If-Match` and `Idempotency-Key` work as on PATCH. The records engine
//! does the rest (`fathom_engine::Engine::restore`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use fathom_engine::writes::restorable;

use super::RecordPath;
use super::access::Principal;
use super::conditional::if_match;
use crate::AppState;
use crate::error::ApiError;
use crate::idempotency::{Begin, IdempotencyKey, Keyed};

pub async fn restore(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
    headers: HeaderMap,
    key: IdempotencyKey,
) -> Result<Response, ApiError> {
    // A collection that deletes for good is refused before anything else is read.
    restorable(&path.collection)?;
    let expected_version = if_match(&headers, &path.collection, path.id)?;
    let claim = match key.begin(&state, &principal, None).await? {
        Begin::Replay(response) => return Ok(response),
        Begin::Run(claim) => claim,
    };
    let render = super::update::render_updated(path.collection.clone(), principal.clone());
    let keyed = Keyed::new(claim, render);
    let outcome = state
        .engine
        .restore(
            &principal,
            &path.collection,
            path.id,
            expected_version,
            keyed.options(),
        )
        .await;
    keyed.finish(&state, outcome, |e| path.write_error(e)).await
}
