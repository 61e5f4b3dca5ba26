//! The HTTP edge of Fathom: the axum router, extractors, middleware, and the one mapping from
//! errors to `application/problem+json`. HTTP and JSON types stay in this crate; below it the
//! store and the schema speak in domain types.

mod admin;
mod advice;
mod auth;
mod body;
mod cache;
mod client_ip;
mod config;
mod custom;
mod envelope;
mod error;
mod events;
mod health;
mod idempotency;
mod limits;
mod live;
mod metrics;
mod middleware;
mod openapi;
mod rate_limit;
mod realtime;
mod records;
mod request_head;

/// Every broken access rule of a schema, one message each (empty when all are sound).
pub fn check_rules(schema: &Schema) -> Vec<String> {
    records::access::check_rules(schema)
}
mod request_id;
mod state;

use axum::Router;
use fathom_schema::Schema;

pub use admin::is_role_name;
pub use advice::{ClientAdvice, ClientAdviceSettings};
pub use auth::oauth;
pub use auth::{
    AuthSettings, AuthState, Caller, Keys, MAX_PASSKEYS, Mail, MailSettings, Mailbox,
    PasskeySettings, ServiceKey, SmtpMailer, TotpSettings, issue_api_key, parse_scopes,
    rotate_signing_key,
};
pub use body::JsonObject;
pub use cache::{CachePlan, ResultCache};
pub use config::{HttpConfig, MetricsExposure, RequestLog};
pub use custom::{CUSTOM_PREFIX, CustomRoute, CustomRoutes, OperationDoc, RouteDoc};
pub use error::ApiError;
pub use limits::{ApiRateLimits, ClassQuotas, RouteClass};
pub use live::LiveApp;
pub use metrics::{HookStats, Metrics, MetricsToken, listener_router as metrics_router};
pub use openapi::document;
pub use rate_limit::AuthRateLimits;
pub use realtime::{Realtime, RealtimeSettings};
pub use records::access::Principal;
pub use records::tenancy::is_tenant_id;
pub use state::{AppState, READINESS_TTL, Shared};

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    router_with(state, &CustomRoutes::default())
}

/// The whole HTTP application with the embedding application's `custom` routes (checked with
/// [`CustomRoutes::check`] beforehand). They are merged before the fallbacks and the rate
/// limits, so they answer 404/405 and 429 as every other route does.
pub fn router_with(state: AppState, custom: &CustomRoutes) -> Router {
    let api =
        records::router()
            .merge(events::router())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::require_migrated,
            ));
    let app = Router::new()
        .nest("/api/v1/auth", auth::router(&state))
        .nest(
            "/api/v1/admin",
            // The client address, for the audit entries of administrative changes.
            admin::router().merge(advice::router()).route_layer(
                axum::middleware::from_fn_with_state(state.clone(), client_ip::remember),
            ),
        )
        .nest(
            "/api/v1/realtime",
            realtime::router().layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::require_migrated,
            )),
        )
        .nest("/api/v1", api)
        .merge(health::router())
        .merge(openapi::router(&state, custom))
        .merge(metrics_route(&state))
        .merge(custom.router())
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        // Every `/api/v1` request counts against its caller's quota for its route class.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::enforce,
        ))
        .with_state(state.clone());
    middleware::wrap(app, &state.config, state.metrics.clone())
}

/// `/metrics` on the main listener, when it is served there (behind its token).
fn metrics_route(state: &AppState) -> Router<AppState> {
    match (&state.config.metrics, &state.metrics) {
        (MetricsExposure::Token { token, .. }, Some(metrics)) => {
            metrics::token_route(metrics.clone(), token.clone())
        }
        _ => Router::new(),
    }
}
