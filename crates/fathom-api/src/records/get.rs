//! `GET /api/v1/{collection}/{id}`: one record.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Map;

use super::{RecordPath, record_json};
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn get(State(state): State<AppState>, path: RecordPath) -> Result<Response, ApiError> {
    let record = state.store.get(path.collection.clone(), path.id).await?;
    let record =
        record.ok_or_else(|| ApiError::record_not_found(&path.collection.name, &path.raw_id))?;
    Ok(envelope(record_json(&record), Map::new()).into_response())
}
