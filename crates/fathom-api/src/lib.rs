//! The HTTP edge of Fathom: the axum router, extractors, middleware, and the one mapping from
//! errors to `application/problem+json`. HTTP and JSON types stay in this crate; below it the
//! store and the schema speak in domain types.

mod admin;
mod auth;
mod body;
mod client_ip;
mod config;
mod envelope;
mod error;
mod health;
mod middleware;
mod openapi;
mod rate_limit;
mod records;

/// Every broken access rule of a schema, one message each (empty when all are sound).
pub fn check_rules(schema: &Schema) -> Vec<String> {
    records::access::check_rules(schema)
}
mod request_id;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use fathom_query::cursor::CursorKey;
use fathom_schema::Schema;
use fathom_store::Store;

pub use auth::{
    AuthSettings, AuthState, Caller, Keys, Mail, Mailbox, ServiceKey, SmtpMailer, issue_api_key,
    parse_scopes, rotate_signing_key,
};
pub use config::HttpConfig;
pub use error::ApiError;
pub use openapi::document;

/// Everything a handler may need. Cloned per request (all fields are cheap handles).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The schema the server was started with; the records API serves exactly this.
    pub schema: Arc<Schema>,
    pub config: Arc<HttpConfig>,
    /// Signs list cursors; shared by every node through the database.
    pub cursor_key: CursorKey,
    /// Passwords, token keys and the mailbox.
    pub auth: Arc<AuthState>,
    readiness: Arc<Readiness>,
}

/// Whether the database's applied schema is the one this server serves, as last checked.
#[derive(Default)]
struct Readiness {
    last: Mutex<Option<(Instant, bool)>>,
}

/// How long a readiness verdict is trusted before the database is asked again. Short enough that
/// a migration applied by another process is noticed promptly; long enough to cost nothing.
const READINESS_TTL: Duration = Duration::from_secs(1);

impl AppState {
    pub fn new(
        store: Store,
        schema: Arc<Schema>,
        config: HttpConfig,
        cursor_key: CursorKey,
        auth: Arc<AuthState>,
    ) -> Self {
        Self {
            store,
            schema,
            config: Arc::new(config),
            cursor_key,
            auth,
            readiness: Arc::default(),
        }
    }

    /// Whether the applied schema has no difference from ours (field order aside). A positive
    /// verdict is cached for [`READINESS_TTL`], so a migration applied by another process (`fathom migrate
    /// apply`) makes the server ready, or not ready, within a second and without a restart.
    pub async fn is_migrated(&self) -> bool {
        self.check_migrated(READINESS_TTL).await
    }

    /// [`AppState::is_migrated`], telling a database that cannot answer (an error, so that
    /// callers answer 503 `service_unavailable`) from one that answers with another schema.
    pub async fn migration_verdict(&self) -> Result<bool, fathom_store::StoreError> {
        self.verdict(READINESS_TTL).await
    }

    /// Like [`AppState::is_migrated`], trusting a positive verdict only if younger than
    /// `max_age` (a negative one is always checked again: a server that is not ready serves
    /// nothing else, so the query costs nothing that matters). `/ready` passes zero.
    pub async fn check_migrated(&self, max_age: Duration) -> bool {
        self.verdict(max_age).await.unwrap_or(false)
    }

    async fn verdict(&self, max_age: Duration) -> Result<bool, fathom_store::StoreError> {
        if let Ok(last) = self.readiness.last.lock()
            && let Some((at, true)) = *last
            && at.elapsed() < max_age
        {
            return Ok(true);
        }
        let verdict = match self.store.applied().await {
            Ok(Some(applied)) => fathom_schema::diff(&applied.schema, &self.schema).is_empty(),
            Ok(None) => false,
            Err(e) => {
                if let Ok(mut last) = self.readiness.last.lock() {
                    *last = None;
                }
                return Err(e);
            }
        };
        if let Ok(mut last) = self.readiness.last.lock() {
            *last = Some((Instant::now(), verdict));
        }
        Ok(verdict)
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = records::router().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::require_migrated,
    ));
    let app = Router::new()
        .nest("/api/v1/auth", auth::router(&state))
        .nest("/api/v1/admin", admin::router())
        .nest("/api/v1", api)
        .merge(health::router())
        .merge(openapi::router(&state))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state.clone());
    middleware::wrap(app, &state.config)
}
