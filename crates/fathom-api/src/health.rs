//! Liveness and readiness probes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// The process is up and serving HTTP. Never touches the database.
async fn health() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// The database answers and its applied schema is the one this server serves. With
/// `redis.url` set, `rate_limits` says where rate limits are counted (`redis`, or
/// `local_fallback` while Redis is down). With broker
/// sinks configured, `brokers` details each one's backlog: a broker that is down delays its
/// events (they wait in the outbox) but does not make the node unready.
async fn ready(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let migrations = database && state.check_migrated(std::time::Duration::ZERO).await;
    let status = if database && migrations {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "checks": { "database": database, "migrations": migrations },
    });
    // With `redis.url` set, where rate limits are counted; never a reason to be unready (without
    // Redis they are counted per node).
    let limits = state.auth.limiter().status();
    if limits != fathom_limits::Status::Local {
        body["rate_limits"] = json!({
            "store": limits.as_str(),
            "shared": limits == fathom_limits::Status::Shared,
        });
    }
    if !state.brokers.is_empty() {
        let sinks: Vec<_> = state
            .brokers
            .reports()
            .into_iter()
            .map(|sink| {
                json!({
                    "name": sink.name,
                    "kind": sink.kind,
                    "role": sink.role,
                    "connected": sink.connected,
                    "backlog": sink.backlog,
                    "breaker": sink.breaker,
                })
            })
            .collect();
        body["brokers"] = sinks.into();
    }
    (status, axum::Json(body)).into_response()
}
