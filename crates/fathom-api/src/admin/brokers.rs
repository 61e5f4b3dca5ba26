//! `GET /api/v1/admin/brokers`: every broker sink of this node with its role (publishing here,
//! or standing by for the node that holds its lease), position, backlog, connection and breaker
//! state, and its last failure (never a URL or credential).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::Admin;
use crate::AppState;
use crate::envelope::envelope;

pub async fn list(State(state): State<AppState>, _admin: Admin) -> Response {
    let data = serde_json::to_value(state.brokers.reports()).unwrap_or(Value::Array(Vec::new()));
    envelope(data, Map::new()).into_response()
}
