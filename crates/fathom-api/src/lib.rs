//! The HTTP edge of Fathom: the axum router, extractors, middleware, and the one mapping from
//! errors to `application/problem+json`. HTTP and JSON types stay in this crate; below it the
//! store and the schema speak in domain types.

mod body;
mod config;
mod envelope;
mod error;
mod health;
mod middleware;
mod records;
mod request_id;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use fathom_schema::Schema;
use fathom_store::Store;

pub use config::HttpConfig;
pub use error::ApiError;

/// Everything a handler may need. Cloned per request (all fields are cheap handles).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The schema the server was started with; the records API serves exactly this.
    pub schema: Arc<Schema>,
    pub config: Arc<HttpConfig>,
    readiness: Arc<Readiness>,
}

/// Whether the database's applied schema is the one this server serves.
#[derive(Default)]
struct Readiness {
    migrated: AtomicBool,
}

impl AppState {
    pub fn new(store: Store, schema: Arc<Schema>, config: HttpConfig) -> Self {
        Self {
            store,
            schema,
            config: Arc::new(config),
            readiness: Arc::default(),
        }
    }

    /// Whether the applied schema matches ours. Once true it stays true (the schema of a running
    /// server never changes); until then every call asks the database again, so that a migration
    /// applied by `fathom migrate apply` from another process makes the server ready.
    pub async fn is_migrated(&self) -> bool {
        if self.readiness.migrated.load(Ordering::Acquire) {
            return true;
        }
        let matches = matches!(
            self.store.applied().await,
            Ok(Some(applied)) if applied.schema == *self.schema
        );
        if matches {
            self.readiness.migrated.store(true, Ordering::Release);
        }
        matches
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let api = records::router().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::require_migrated,
    ));
    let app = Router::new()
        .nest("/api/v1", api)
        .merge(health::router())
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state.clone());
    middleware::wrap(app, &state.config)
}
