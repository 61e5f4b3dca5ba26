//! `GET /api/v1/events?after=SEQ&limit=N`: the change feed for services. Administrators and API
//! keys with the `events:read` scope read the outbox in sequence order; a tenant-bound key sees
//! only its tenant's events, and a key never sees hidden fields (stripped per collection as REST
//! strips them). A position older than retention is answered 410 `events_expired`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fathom_core::ErrorCode;
use fathom_store::Event;
use serde_json::{Map, Value};

use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;
use crate::records::access::{Principal, strip_hidden};

/// Events per page without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/events", get(feed))
}

/// Who may read the feed, and which part of it.
enum Reader {
    /// Every event, every field.
    Administrator,
    /// A service key: its tenant's events only (all when it has none), hidden fields stripped.
    Service {
        tenant: Option<String>,
        principal: Principal,
    },
}

fn reader(principal: Principal) -> Result<Reader, ApiError> {
    match principal {
        Principal::Admin(_) | Principal::System => Ok(Reader::Administrator),
        Principal::Service(key) if fathom_auth::reads_events(&key.scopes) => Ok(Reader::Service {
            tenant: key.tenant.clone(),
            principal: Principal::Service(key),
        }),
        Principal::Service(key) => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("The API key `{}` may not read the change feed.", key.name),
            format!("Use a key with the scope `{}`.", fathom_auth::EVENTS_READ),
        )),
        Principal::Anonymous => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "Reading the change feed requires an administrator or an API key.",
            "Send `Authorization: Bearer <access_token>` of an administrator, or `Authorization: Bearer <api key>` with the scope `events:read`.",
        )),
        Principal::User(_) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "The change feed is for administrators and API keys with the scope `events:read`.",
            "Sign in with an account that has the `admin` role, or use an API key with the scope `events:read`.",
        )),
    }
}

/// The feed's query: where to start and how many.
struct FeedQuery {
    after: i64,
    limit: usize,
}

fn bad_query(detail: String) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQuery,
        detail,
        format!(
            "Use `after`, the last sequence you processed (0 to start from the oldest kept event), and `limit`, a whole number from 1 to {MAX_LIMIT}; for example ?after=0&limit={DEFAULT_LIMIT}."
        ),
    )
}

fn parse_query(raw: Option<&str>) -> Result<FeedQuery, ApiError> {
    let mut query = FeedQuery {
        after: 0,
        limit: DEFAULT_LIMIT,
    };
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "after" => {
                query.after = value.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    bad_query(format!(
                        "`after` is {value:?}, which is not a sequence number (a whole number from 0)."
                    ))
                })?;
            }
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        bad_query(format!(
                            "`limit` is {value:?}, which is not a whole number from 1 to {MAX_LIMIT}."
                        ))
                    })?;
            }
            other => {
                return Err(bad_query(format!(
                    "`{other}` is not a parameter of the change feed."
                )));
            }
        }
    }
    Ok(query)
}

async fn feed(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let reader = reader(principal)?;
    let query = parse_query(raw.as_deref())?;
    let tenant = match &reader {
        Reader::Administrator => None,
        Reader::Service { tenant, .. } => tenant.as_deref(),
    };
    let page = state
        .store
        .events_after(query.after, query.limit, tenant)
        .await?;
    if query.after > page.latest {
        return Err(bad_query(format!(
            "`after` is {}, but the latest event is {}: no such position exists yet.",
            query.after, page.latest
        )));
    }
    if page.oldest > 0 && query.after < page.oldest - 1 {
        return Err(ApiError::new(
            ErrorCode::EventsExpired,
            format!(
                "The events after {} are no longer kept; the oldest kept event is {}.",
                query.after, page.oldest
            ),
            "Reload the records you follow, then read the feed from `after` = the `latest` sequence you read before reloading (retention is set by events.retention_hours and events.retention_count).",
        ));
    }
    let next = page.events.last().map_or(query.after, |e| e.sequence);
    let data: Vec<Value> = page
        .events
        .into_iter()
        .map(|event| event_json(&state, &reader, event))
        .collect::<Result<_, ApiError>>()?;
    let mut meta = Map::new();
    meta.insert("next".into(), Value::from(next));
    meta.insert("latest".into(), Value::from(page.latest));
    meta.insert("oldest".into(), Value::from(page.oldest));
    Ok(envelope(Value::Array(data), meta).into_response())
}

/// An event as this reader may see it: a service's copy of the record loses the hidden fields
/// of its collection (and the whole record when the collection is no longer served, since then
/// nothing says which fields are hidden). The outbox holds encrypted fields as ciphertext;
/// they are decrypted here, for this reader, after what it may not see is gone.
fn event_json(state: &AppState, reader: &Reader, mut event: Event) -> Result<Value, ApiError> {
    if let Reader::Service { principal, .. } = reader {
        event.record = match (state.schema.collection(&event.collection), event.record) {
            (Some(collection), Some(mut record)) => {
                strip_hidden(collection, principal, &mut record);
                event
                    .changed
                    .retain(|name| collection.field(name).is_none_or(|f| !f.hidden));
                Some(record)
            }
            _ => None,
        };
    }
    if let Some(collection) = state.schema.collection(&event.collection) {
        state.store.reveal_event(collection, &mut event)?;
    }
    Ok(serde_json::to_value(&event).unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_takes_after_and_limit_and_nothing_else() {
        let q = parse_query(None).unwrap();
        assert_eq!((q.after, q.limit), (0, DEFAULT_LIMIT));
        let q = parse_query(Some("after=12&limit=1000")).unwrap();
        assert_eq!((q.after, q.limit), (12, 1000));
        for bad in [
            "after=-1",
            "after=x",
            "limit=0",
            "limit=1001",
            "since=3",
            "after=",
        ] {
            assert!(parse_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
