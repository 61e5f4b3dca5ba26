//! `GET /api/v1/{collection}/{id}`: one record, with `expand` and `fields`.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::params::parse_get;
use super::{RecordPath, shape_records};
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn get(
    State(state): State<AppState>,
    path: RecordPath,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let shape = parse_get(query.as_deref(), &state, &path.collection)?;
    let record = state.store.get(path.collection.clone(), path.id).await?;
    let record =
        record.ok_or_else(|| ApiError::record_not_found(&path.collection.name, &path.raw_id))?;
    let mut shaped = shape_records(&state, std::slice::from_ref(&record), &shape).await?;
    Ok(envelope(shaped.pop().unwrap_or(Value::Null), Map::new()).into_response())
}
