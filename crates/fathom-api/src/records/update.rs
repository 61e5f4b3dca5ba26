//! `PATCH /api/v1/{collection}/{id}`: a partial update of the supplied fields, answered with
//! the record and its new `ETag`. `If-Match` makes it conditional on the version last read
//! (412 when stale; 428 without it where the collection requires it); an `Idempotency-Key`
//! makes a retry replay the first answer. The records engine does the rest
//! (`fathom_engine::Engine::update`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use fathom_schema::Collection;
use fathom_store::{StoredResponse, WriteResult};
use serde_json::Map;

use super::RecordPath;
use super::access::{Principal, refused_change, visible_json};
use super::conditional::{if_match, record_etag};
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope_with_id;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, Keyed, stored_json};

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
    let render = render_updated(path.collection.clone(), principal.clone());
    let keyed = Keyed::new(claim, render);
    let outcome = state
        .engine
        .update(
            &principal,
            &path.collection,
            path.id,
            &body,
            expected_version,
            keyed.options(),
        )
        .await;
    keyed
        .finish(&state, outcome, |e| {
            refused_change(&principal, &path.collection.name, e, |e| {
                path.write_error(e)
            })
        })
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
