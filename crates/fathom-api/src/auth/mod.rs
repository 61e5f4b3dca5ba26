//! Authentication over HTTP under `/api/v1/auth`: tokens (login, refresh, logout), the account
//! (register, me, password change, email verification, password reset), sessions and the JWKS.
//! The primitives (argon2id, Ed25519 JWTs, opaque tokens) live in `fathom-auth`; storage in
//! `fathom-store`; this module orchestrates them and owns the HTTP shapes.
//!
//! Enumeration defence: login, registration and reset answer identically for known and unknown
//! emails, an unknown email still costs one password verification, and the mail that depends on
//! an account existing is sent after the answer (`notify`).
//! Guessing defence: `throttle` (per account and address), `hashing` (each address's share of
//! the hashing pool) and the per-route rate limits (`crate::rate_limit`).

pub(crate) mod account;
pub(crate) mod api_keys;
pub mod cache;
mod caller;
mod email_change;
mod hashing;
mod keys;
mod mailbox;
pub(crate) mod notify;
pub mod oauth;
mod passkeys;
mod profile;
mod resend;
mod sessions;
mod smtp;
mod throttle;
mod tokens;
mod totp;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use fathom_auth::{PasswordHasher, PasswordPolicy, TokenConfig};

pub use api_keys::{API_KEY_TAG, ServiceKey, issue as issue_api_key, parse_scopes};
pub use caller::{Caller, bearer_in, bearer_token, caller_from_token};
pub use keys::{Keys, rotate as rotate_signing_key};
pub use mailbox::{Mail, Mailbox};
pub use notify::MailSettings;
pub use passkeys::{MAX_PASSKEYS, PasskeySettings};
pub use smtp::SmtpMailer;
pub(crate) use tokens::user_json;
pub use totp::TotpSettings;

use crate::AppState;
use crate::rate_limit::{AuthLimiters, AuthRateLimits, ClientRateLimit};

/// Authentication settings (a slice of the server configuration).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub tokens: TokenConfig,
    pub session_ttl: Duration,
    /// Wrong passwords for one account from one address before that address is refused for it.
    pub lockout_threshold: u32,
    /// How long such a refusal lasts, and how long failures are remembered.
    pub lockout_duration: Duration,
    pub allow_registration: bool,
    /// Whether sign-in needs a verified email address.
    pub require_verified_email: bool,
    pub rate_limits: AuthRateLimits,
    /// Hashes one address may have waiting or running (0: unbounded).
    pub hash_queue_per_address: usize,
    /// Hashes that may wait in the shared queue (0: unbounded).
    pub hash_queue_limit: usize,
    pub trusted_proxies: Vec<IpAddr>,
    /// How account mail is written and capped.
    pub mail: MailSettings,
    /// Lifetime of an email-verification token.
    pub verification_ttl: Duration,
    /// Lifetime of a password-reset token.
    pub reset_ttl: Duration,
    /// How long this node trusts a session it found live before checking the database again;
    /// zero checks on every request. See [`cache`] for the trade-off.
    pub session_cache: Duration,
    /// The data API's rate limits (`[rate_limits]`, `crate::limits`).
    pub api_limits: crate::limits::ApiRateLimits,
    /// Where every rate limit is counted: on the node, or in Redis for the whole cluster.
    pub limiter: fathom_limits::Limiter,
    /// The TOTP second factor (`[auth.totp]`).
    pub totp: TotpSettings,
    /// OAuth2 / OpenID Connect providers and the client redirect URIs (`oauth`).
    pub oauth: oauth::OAuthSettings,
    /// The passkey relying party (`[auth.passkeys]`); `None` switches passkeys off.
    pub passkeys: Option<PasskeySettings>,
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
    pub(crate) throttle: throttle::Throttle,
    pub(crate) hash_shares: hashing::HashShares,
    pub(crate) recipients: notify::RecipientCap,
    /// The auth routes' rate limits, kept across schema reloads.
    pub(crate) limiters: AuthLimiters,
    /// Requests the data-API limits refused, by route class, for `/metrics`.
    pub(crate) api_rejections: crate::limits::Rejections,
    /// Sign-in outcomes, for `/metrics`.
    pub(crate) sign_ins: crate::metrics::SignInCounts,
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
        let throttle = throttle::Throttle::new(
            throttle::LoginThrottle::new(settings.lockout_threshold, settings.lockout_duration),
            settings.limiter.clone(),
        );
        let hash_shares =
            hashing::HashShares::new(settings.hash_queue_per_address, settings.hash_queue_limit);
        let tokens = cache::TokenCache::new(cache::TOKEN_CAPACITY, settings.tokens.leeway_secs);
        let sessions = cache::SessionCache::new(cache::SESSION_CAPACITY, settings.session_cache);
        let limiters = AuthLimiters::new(
            settings.rate_limits,
            &settings.trusted_proxies,
            &settings.limiter,
        );
        Arc::new(Self {
            settings,
            hasher,
            policy,
            keys,
            mailbox: Mailbox::default(),
            smtp,
            throttle,
            hash_shares,
            recipients: notify::RecipientCap::default(),
            limiters,
            api_rejections: crate::limits::Rejections::default(),
            sign_ins: crate::metrics::SignInCounts::default(),
            tokens,
            sessions,
        })
    }
}

impl AuthState {
    /// Where rate limits are counted (the node, or Redis for the cluster).
    pub fn limiter(&self) -> &fathom_limits::Limiter {
        &self.settings.limiter
    }

    /// Sends `mail` over SMTP when configured, else into the development mailbox.
    pub fn deliver(&self, mail: Mail) {
        match &self.smtp {
            Some(smtp) => smtp.send(mail),
            None => self.mailbox.send(mail),
        }
    }
}

/// `router` under `limit`.
fn limited(limit: &ClientRateLimit, router: Router<AppState>) -> Router<AppState> {
    let limit = limit.clone();
    router.route_layer(axum::middleware::from_fn_with_state(
        limit,
        crate::rate_limit::limit,
    ))
}

pub fn router(state: &AppState) -> Router<AppState> {
    let limits = &state.auth.limiters;
    // Each family of routes has a budget of its own, so routine refreshes cannot use up the
    // sign-in budget and the other way round.
    let families = Router::new()
        .merge(limited(
            &limits.login,
            Router::new()
                .route("/login", post(tokens::login))
                .merge(oauth::sign_in_routes(&state.auth.settings.oauth))
                .route("/passkeys/login/options", post(passkeys::sign_in_options))
                .route("/passkeys/login", post(passkeys::finish_sign_in))
                // Guessing the current password with a stolen access token is a login guess.
                .route("/password", post(account::change_password))
                .route("/email", post(email_change::request_change))
                // So is every route that checks a TOTP or recovery code.
                .merge(totp::routes()),
        ))
        .merge(limited(
            &limits.refresh,
            Router::new().route("/refresh", post(tokens::refresh)),
        ))
        .merge(limited(
            &limits.register,
            Router::new().route("/register", post(account::register)),
        ))
        .merge(limited(
            &limits.verify,
            Router::new()
                .route("/verify", post(account::verify_email))
                .route("/verify/resend", post(resend::resend_verification)),
        ))
        .merge(limited(
            &limits.password_reset,
            Router::new()
                .route("/password-reset", post(account::request_reset))
                .route("/password-reset/confirm", post(account::confirm_reset)),
        ));
    Router::new()
        .merge(limited(&limits.overall, families))
        .route("/logout", post(tokens::logout))
        .route("/me", get(account::me).patch(profile::update_me))
        .route(
            "/sessions",
            get(sessions::list).delete(sessions::revoke_others),
        )
        .route("/sessions/{id}", delete(sessions::revoke_one))
        .route(
            "/passkeys",
            get(passkeys::list).post(passkeys::finish_registration),
        )
        .route(
            "/passkeys/registration/options",
            post(passkeys::registration_options),
        )
        .route("/passkeys/{id}", delete(passkeys::remove))
        .route("/jwks.json", get(keys::jwks))
        .merge(oauth::identity_routes(&state.auth.settings.oauth))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::client_ip::remember,
        ))
}
