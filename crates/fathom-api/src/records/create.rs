//! `POST /api/v1/{collection}`: validate the body, create the record, answer 201 with `Location`
//! and `ETag`. The body may name the new record's `id` (a UUID); one that exists already is 409.
//! With an `Idempotency-Key`, a retry replays the first answer (see `crate::idempotency`). The
//! records engine does the rest (`fathom_engine::Engine::create`).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use fathom_store::{StoredResponse, WriteResult};
use serde_json::Map;

use super::CollectionPath;
use super::access::{Principal, visible_json};
use super::conditional::record_etag;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope_with_id;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, Keyed, stored_json};

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
    let request_id = crate::request_id::current();
    let viewer = principal.clone();
    let shown = collection.clone();
    let render = move |results: &[WriteResult]| -> StoredResponse {
        let Some(WriteResult::Created(record)) = results.first() else {
            return idempotency::unexpected();
        };
        let location = format!("/api/v1/{}/{}", shown.name, record.id.hyphenated());
        let body = envelope_with_id(
            visible_json(&shown, &viewer, record),
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
    let keyed = Keyed::new(claim, render);
    let outcome = state
        .engine
        .create(&principal, &collection, &body, keyed.options())
        .await;
    keyed.finish(&state, outcome, ApiError::from).await
}
