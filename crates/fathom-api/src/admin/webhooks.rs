//! `/api/v1/admin/webhooks`: administrators manage webhook endpoints (`fathom-webhooks`):
//! create (the `whsec_` secret is in the answer once), list, read, update, remove, rotate the
//! secret, send a test message, read the attempt log and the dead letters, and replay. Each
//! endpoint shows its delivery position, the node holding its lease, its circuit breaker and
//! its dead-letter count. Changes are audited.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::AuditEntry;
use fathom_webhooks::{
    AttemptRow, DeadLetter, EndpointChanges, EndpointSpec, EndpointView, Replay, WebhookError,
};
use serde_json::{Map, Value, json};

use super::Admin;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

const FIELDS: &[&str] = &[
    "url",
    "description",
    "collections",
    "operations",
    "filter",
    "enabled",
    "tenant",
];

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e.store {
            Some(store) => (*store).into(),
            None => ApiError::new(e.code, e.message, e.hint),
        }
    }
}

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationFailed,
        message.clone(),
        "Send {\"url\": \"https://example.com/hooks\", \"collections\": [\"orders\"], \"operations\": [\"create\"]}; see docs/WEBHOOKS.md.",
    )
    .with_field(field, "invalid", message)
}

fn view_json(v: &EndpointView) -> Value {
    json!({
        "id": v.id,
        "url": v.spec.url,
        "description": v.spec.description,
        "collections": v.spec.collections,
        "operations": v.spec.operations,
        "filter": v.spec.filter,
        "enabled": v.spec.enabled,
        "tenant": v.spec.tenant,
        "disabled_reason": v.spec.disabled_reason,
        "created_at_ms": v.created_at_ms,
        "updated_at_ms": v.updated_at_ms,
        "position": v.position,
        "holder": v.holder,
        "breaker": {"state": v.breaker.as_str(), "consecutive_failures": v.consecutive_failures},
        "dead_letters": v.dead_letters,
        "live_secrets": v.live_secrets,
    })
}

fn attempt_json(a: &AttemptRow) -> Value {
    json!({
        "id": a.id,
        "sequence": a.seq,
        "event_id": a.event_id,
        "attempt": a.attempt,
        "at_ms": a.at_ms,
        "status": a.status,
        "duration_ms": a.duration_ms,
        "response": a.response,
        "error": a.error,
        "outcome": a.outcome,
    })
}

fn dead_json(d: &DeadLetter) -> Value {
    json!({
        "sequence": d.seq,
        "event_id": d.event_id,
        "at_ms": d.at_ms,
        "attempts": d.attempts,
        "last_error": d.last_error,
    })
}

fn audit(admin: &Admin, action: &str, id: &str, detail: Option<String>) -> AuditEntry {
    AuditEntry {
        action: action.into(),
        outcome: "success".into(),
        actor: Some(admin.0.user_id.to_string()),
        target: Some(id.to_owned()),
        request_id: Some(crate::request_id::current()),
        ip: crate::client_ip::current().map(|ip| ip.to_string()),
        detail,
        ..AuditEntry::default()
    }
}

fn refuse_unknown(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        Some(key) => Err(invalid(
            key,
            format!(
                "`{key}` is not a webhook setting; the settings are {}.",
                FIELDS.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn text(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(Some(s.clone()))),
        Some(_) => Err(invalid(
            key,
            format!("`{key}` must be a string of at most {max} characters, or null."),
        )),
    }
}

fn names(body: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) if items.len() <= 100 => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| invalid(key, format!("Every item of `{key}` must be a string."))),
        Some(_) => Err(invalid(
            key,
            format!("`{key}` must be an array of at most 100 names (empty: all)."),
        )),
    }
}

fn changes(body: &Map<String, Value>) -> Result<EndpointChanges, ApiError> {
    refuse_unknown(body)?;
    let url = match text(body, "url", 2048)? {
        Some(None) => return Err(invalid("url", "`url` cannot be null.".into())),
        other => other.flatten(),
    };
    let enabled = match body.get("enabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(invalid(
                "enabled",
                "`enabled` must be true or false.".into(),
            ));
        }
    };
    Ok(EndpointChanges {
        url,
        description: text(body, "description", 500)?,
        collections: names(body, "collections")?,
        operations: names(body, "operations")?,
        filter: text(body, "filter", fathom_query::MAX_EXPRESSION_BYTES)?,
        enabled,
        tenant: text(body, "tenant", 128)?,
    })
}

pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let c = changes(&body)?;
    let Some(url) = c.url else {
        return Err(invalid(
            "url",
            "`url` is required: where to send the events.".into(),
        ));
    };
    let spec = EndpointSpec {
        url,
        description: c.description.flatten(),
        collections: c.collections.unwrap_or_default(),
        operations: c.operations.unwrap_or_default(),
        filter: c.filter.flatten(),
        enabled: c.enabled.unwrap_or(true),
        tenant: c.tenant.flatten(),
        disabled_reason: None,
    };
    let (view, secret) = state.webhooks.create(spec, &state.schema).await?;
    state
        .store
        .audit(audit(
            &admin,
            "webhook_created",
            &view.id,
            Some(view.spec.url.clone()),
        ))
        .await?;
    let mut data = view_json(&view);
    data["secret"] = json!(secret);
    Ok((StatusCode::CREATED, envelope(data, Map::new())).into_response())
}

pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let views = state.webhooks.list().await?;
    let data: Vec<Value> = views.iter().map(view_json).collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.webhooks.get(&id).await?;
    Ok(envelope(view_json(&view), Map::new()).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let c = changes(&body)?;
    let view = state.webhooks.update(&id, c, &state.schema).await?;
    state
        .store
        .audit(audit(
            &admin,
            "webhook_updated",
            &id,
            Some(view.spec.url.clone()),
        ))
        .await?;
    Ok(envelope(view_json(&view), Map::new()).into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state.webhooks.remove(&id).await?;
    state
        .store
        .audit(audit(&admin, "webhook_removed", &id, None))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rotate(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let secret = state.webhooks.rotate(&id).await?;
    state
        .store
        .audit(audit(&admin, "webhook_secret_rotated", &id, None))
        .await?;
    let overlap = state.webhooks.settings().secret_overlap.as_secs();
    Ok(envelope(
        json!({"id": id, "secret": secret, "previous_valid_for_secs": overlap}),
        Map::new(),
    )
    .into_response())
}

pub async fn test(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let result = state.webhooks.test(&id).await?;
    let o = &result.outcome;
    Ok(envelope(
        json!({
            "message_id": result.message_id,
            "delivered": o.delivered(),
            "status": o.status,
            "duration_ms": u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
            "response": o.response,
            "error": o.error,
        }),
        Map::new(),
    )
    .into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptsQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn attempts(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    query: Result<Query<AttemptsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidQuery,
            "The attempt log takes `limit` (1 to 1000) and `before` (an attempt id).",
            "For example ?limit=100, then ?before=<the last id> for the next page.",
        )
    };
    let Query(q) = query.map_err(|_| bad())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) || q.before.is_some_and(|b| b < 1) {
        return Err(bad());
    }
    let rows = state.webhooks.attempts(&id, q.before, limit).await?;
    let mut meta = Map::new();
    meta.insert("next_before".into(), json!(rows.last().map(|r| r.id)));
    let data: Vec<Value> = rows.iter().map(attempt_json).collect();
    Ok(envelope(Value::Array(data), meta).into_response())
}

pub async fn dead_letters(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rows = state.webhooks.dead_letters(&id).await?;
    let data: Vec<Value> = rows.iter().map(dead_json).collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

/// `{"sequence": n}`, `{"from": a, "to": b}` or `{"dead_letters": true}`.
pub async fn replay(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::ValidationFailed,
            "A replay names one message ({\"sequence\": n}), a range ({\"from\": a, \"to\": b}) or every dead letter ({\"dead_letters\": true}).",
            "Sequences are those of the change feed and of the attempt log.",
        )
    };
    let int = |key: &str| body.get(key).and_then(Value::as_i64);
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let replay = match keys.as_slice() {
        ["sequence"] => {
            let seq = int("sequence").ok_or_else(bad)?;
            Replay::Range { from: seq, to: seq }
        }
        ["from", "to"] => Replay::Range {
            from: int("from").ok_or_else(bad)?,
            to: int("to").ok_or_else(bad)?,
        },
        ["dead_letters"] if body.get("dead_letters") == Some(&Value::Bool(true)) => {
            Replay::DeadLetters
        }
        _ => return Err(bad()),
    };
    let queued = state.webhooks.replay(&id, replay).await?;
    state
        .store
        .audit(audit(
            &admin,
            "webhook_replayed",
            &id,
            Some(format!("{queued} queued")),
        ))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        envelope(json!({"queued": queued}), Map::new()),
    )
        .into_response())
}
