//! Authentication over HTTP under `/api/v1/auth`: tokens (login, refresh, logout), the account
//! (register, me, password change, email verification, password reset), sessions and the JWKS.
//! The primitives (argon2id, Ed25519 JWTs, opaque tokens) live in `fathom-auth`; storage in
//! `fathom-store`; this module orchestrates them and owns the HTTP shapes.
//!
//! Enumeration defence: login, registration and reset answer identically for known and unknown
//! emails, and an unknown email still costs one password verification.

mod account;
pub(crate) mod api_keys;
pub mod cache;
mod caller;
mod keys;
mod mailbox;
mod profile;
mod sessions;
mod smtp;
mod throttle;
mod tokens;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use fathom_auth::{PasswordHasher, PasswordPolicy, TokenConfig};

pub use api_keys::{API_KEY_TAG, ServiceKey, issue as issue_api_key, parse_scopes};
pub use caller::{Caller, bearer_token};
pub use keys::{Keys, rotate as rotate_signing_key};
pub use mailbox::{Mail, Mailbox};
pub use smtp::SmtpMailer;
pub(crate) use tokens::user_json;

use crate::AppState;
use crate::rate_limit::ClientRateLimit;

/// Authentication settings (a slice of the server configuration).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub tokens: TokenConfig,
    pub session_ttl: Duration,
    pub lockout_threshold: u32,
    pub lockout_duration: Duration,
    pub allow_registration: bool,
    pub rate_limit_per_minute: u32,
    pub trusted_proxies: Vec<IpAddr>,
    /// Lifetime of an email-verification token.
    pub verification_ttl: Duration,
    /// Lifetime of a password-reset token.
    pub reset_ttl: Duration,
    /// How long this node trusts a session it found live before checking the database again;
    /// zero checks on every request. See [`cache`] for the trade-off.
    pub session_cache: Duration,
}

/// Everything the auth endpoints share.
pub struct AuthState {
    pub settings: AuthSettings,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    pub keys: Keys,
    /// The development mailbox: holds mail when no SMTP relay is configured.
    pub mailbox: Mailbox,
    pub smtp: Option<SmtpMailer>,
    pub(crate) rate_limit: ClientRateLimit,
    pub(crate) throttle: throttle::LoginThrottle,
    /// Access tokens whose signature this node has verified.
    pub tokens: cache::TokenCache,
    /// Sessions this node found live a moment ago. Whatever ends a session here forgets it.
    pub sessions: cache::SessionCache,
}

impl AuthState {
    pub fn new(
        settings: AuthSettings,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        keys: Keys,
        smtp: Option<SmtpMailer>,
    ) -> Arc<Self> {
        let rate_limit = ClientRateLimit::per_minute(
            settings.rate_limit_per_minute,
            settings.trusted_proxies.clone(),
        );
        let tokens = cache::TokenCache::new(cache::TOKEN_CAPACITY, settings.tokens.leeway_secs);
        let sessions = cache::SessionCache::new(cache::SESSION_CAPACITY, settings.session_cache);
        Arc::new(Self {
            settings,
            hasher,
            policy,
            keys,
            mailbox: Mailbox::default(),
            smtp,
            rate_limit,
            throttle: throttle::LoginThrottle::default(),
            tokens,
            sessions,
        })
    }
}

impl AuthState {
    /// Sends `mail` over SMTP when configured, else into the development mailbox.
    pub fn deliver(&self, mail: Mail) {
        match &self.smtp {
            Some(smtp) => smtp.send(mail),
            None => self.mailbox.send(mail),
        }
    }
}

pub fn router(state: &AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/login", post(tokens::login))
        .route("/refresh", post(tokens::refresh))
        .route("/register", post(account::register))
        .route("/verify", post(account::verify_email))
        .route("/password-reset", post(account::request_reset))
        .route("/password-reset/confirm", post(account::confirm_reset))
        // Guessing the current password with a stolen access token is limited like a login.
        .route("/password", post(account::change_password))
        .route_layer(axum::middleware::from_fn_with_state(
            state.auth.rate_limit.clone(),
            crate::rate_limit::limit,
        ));
    Router::new()
        .merge(limited)
        .route("/logout", post(tokens::logout))
        .route("/me", get(account::me).patch(profile::update_me))
        .route(
            "/sessions",
            get(sessions::list).delete(sessions::revoke_others),
        )
        .route("/sessions/{id}", delete(sessions::revoke_one))
        .route("/jwks.json", get(keys::jwks))
}
