//! `GET /api/v1/admin/audit?limit=100`: the newest audit entries, newest first.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Admin;
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut limit = 100u32;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (key.as_ref(), value.parse::<u32>()) {
            ("limit", Ok(n)) if (1..=1000).contains(&n) => limit = n,
            _ => {
                return Err(ApiError::new(
                    fathom_core::ErrorCode::InvalidQuery,
                    "This endpoint takes only `limit`, a whole number from 1 to 1000.",
                    "Use for example limit=100.",
                ));
            }
        }
    }
    let records = state.store.audit_log(limit).await?;
    let data: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "seq": r.seq,
                "at": r.at,
                "action": r.entry.action,
                "outcome": r.entry.outcome,
                "actor": r.entry.actor,
                "target": r.entry.target,
                "request_id": r.entry.request_id,
                "ip": r.entry.ip,
                "detail": r.entry.detail,
            })
        })
        .collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}
