//! Administration under `/api/v1/admin`: user management, API keys, webhooks, the audit log and
//! the broker sinks' state. Every route takes an
//! [`Admin`]: a valid access token whose roles include `admin` (401 without a token, 403 with
//! another role). The first administrator comes from `fathom users create-admin`.

mod accounts;
mod api_keys;
mod audit;
mod brokers;
mod mailbox;
mod user_search;
mod users;
mod webhooks;

pub use users::is_role_name;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use fathom_core::ErrorCode;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// The role that may administer the server.
pub const ADMIN_ROLE: &str = "admin";

/// A caller with the `admin` role.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.claims.roles.iter().any(|r| r == ADMIN_ROLE) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "This endpoint is for administrators.",
                "Sign in with an account that has the `admin` role.",
            ));
        }
        Ok(Self(caller))
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(users::list).post(accounts::create))
        .route(
            "/users/{id}/password",
            axum::routing::put(accounts::set_password),
        )
        .route(
            "/users/{id}",
            get(users::get)
                .patch(users::update)
                .delete(accounts::delete),
        )
        .route("/audit", get(audit::list))
        .route("/mailbox", get(mailbox::list))
        .route("/api-keys", get(api_keys::list).post(api_keys::create))
        .route("/api-keys/{id}", delete(api_keys::revoke))
        .route("/brokers", get(brokers::list))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::remove),
        )
        .route("/webhooks/{id}/rotate-secret", post(webhooks::rotate))
        .route("/webhooks/{id}/test", post(webhooks::test))
        .route("/webhooks/{id}/attempts", get(webhooks::attempts))
        .route("/webhooks/{id}/dead-letters", get(webhooks::dead_letters))
        .route("/webhooks/{id}/replay", post(webhooks::replay))
}
