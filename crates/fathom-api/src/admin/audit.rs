//! `GET /api/v1/admin/audit?actor=&action=&collection=&since=&until=&before=&limit=`: audit
//! entries matching every filter given, newest first, a page at a time (`before` is the
//! `meta.page.next_before` of the previous page). Each entry carries its chain hashes, so a
//! reader can check the entries it holds (`fathom audit verify` checks the whole chain).

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::AuditQuery;
use serde_json::{Map, Value, json};

use super::Admin;
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

/// The longest value a text filter takes.
const MAX_FILTER_BYTES: usize = 200;

fn invalid(name: &str, expected: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQuery,
        format!("The query parameter `{name}` must be {expected}."),
        "Filters: actor, action, collection (text), since and until (RFC 3339 timestamps), \
         before (an entry's seq, from meta.page.next_before) and limit (1 to 1000); each at most once.",
    )
}

/// Reads the query into the store's filters.
fn parse(query: Option<String>) -> Result<AuditQuery, ApiError> {
    let mut filters = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if seen.contains(&key) {
            return Err(invalid(&key, "given once"));
        }
        let text = || {
            (!value.is_empty() && value.len() <= MAX_FILTER_BYTES && !value.contains('\0'))
                .then(|| value.to_string())
                .ok_or_else(|| invalid(&key, "a text of 1 to 200 bytes"))
        };
        let time = || {
            fathom_schema::value::parse_timestamp(&value)
                .ok_or_else(|| invalid(&key, "an RFC 3339 timestamp such as 2026-01-31T12:00:00Z"))
        };
        match key.as_ref() {
            "actor" => filters.actor = Some(text()?),
            "action" => filters.action = Some(text()?),
            "collection" => filters.collection = Some(text()?),
            "since" => filters.since = Some(time()?),
            "until" => filters.until = Some(time()?),
            "before" => {
                filters.before = Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| invalid(&key, "a whole number from 1"))?,
                );
            }
            "limit" => {
                filters.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| invalid(&key, "a whole number from 1 to 1000"))?;
            }
            _ => return Err(invalid(&key, "one of the known filters")),
        }
        seen.push(key);
    }
    Ok(filters)
}

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filters = parse(query)?;
    let limit = filters.limit;
    let records = state.store.audit_query(filters).await?;
    let next = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
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
                "collection": r.entry.collection,
                "changed": r.entry.changed,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            })
        })
        .collect();
    let mut meta = Map::new();
    meta.insert(
        "page".into(),
        json!({ "limit": limit, "next_before": next }),
    );
    Ok(envelope(Value::Array(data), meta).into_response())
}
