//! `[auth]`: tokens, sessions, passwords, brute-force defence and client addresses.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The longest `auth.session_cache_ms` accepted: one minute.
pub const MAX_SESSION_CACHE_MS: u64 = 60_000;

/// Authentication settings. Defaults follow OWASP guidance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The `iss` of issued access tokens.
    pub issuer: String,
    /// The `aud` of issued access tokens; tokens for another audience are refused.
    pub audience: String,
    /// Lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// Absolute lifetime of a login session (its refresh tokens die with it).
    pub session_ttl_hours: u64,
    /// Shortest accepted password, in characters (never below 8).
    pub password_min_length: usize,
    /// Argon2id memory cost in KiB (at least 19456).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations (at least 2).
    pub argon2_iterations: u32,
    /// Password hashes computed at once; 0 means one per CPU. Logins beyond it queue.
    pub hash_concurrency: usize,
    /// Password hashing jobs (logins, registrations, password changes) one client address may
    /// have queued or running at once; beyond it the address is answered 429 at once. 0: no
    /// per-address share.
    pub hash_queue_per_address: usize,
    /// Password hashing jobs that may wait for the pool at once, whoever sent them; beyond it
    /// requests from addresses that never signed in to the account are answered 429 at once. 0:
    /// unbounded.
    pub hash_queue_limit: usize,
    /// Wrong passwords for one account from one client address before that address is refused
    /// for that account. Other addresses are unaffected, so no one can lock an owner out; once
    /// an account has collected this many failures from addresses that never signed in to it,
    /// such addresses are slowed down (a delay, never a lock).
    pub lockout_threshold: u32,
    /// How long an address stays refused for an account (and how long failures are counted).
    pub lockout_minutes: u64,
    /// Requests a minute per client address and route family; 0 switches one off.
    pub rate_limits: AuthRateLimits,
    /// An extra budget a minute per client address shared by every limited auth route, on top
    /// of `rate_limits`; 0 (the default) has none.
    pub rate_limit_per_minute: u32,
    /// Whether accounts must have verified their email address before they may sign in.
    pub require_verified_email: bool,
    /// Proxies whose `X-Forwarded-For` is believed (exact addresses).
    pub trusted_proxies: Vec<String>,
    /// Whether `POST /api/v1/auth/register` is open.
    pub allow_registration: bool,
    /// How long, in milliseconds, a node trusts a session it found live before reading it
    /// again; 0 reads it on every request. A node forgets a session at once when it ends it
    /// itself; on other nodes a revoked session's access tokens keep working for up to this.
    pub session_cache_ms: u64,
    /// `[auth.totp]`: the TOTP second factor.
    pub totp: super::TotpConfig,
    /// `[auth.passkeys]`: the WebAuthn relying party; passkeys are off unless `rp_id` is set.
    pub passkeys: super::PasskeysConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "fathom".into(),
            audience: "fathom-api".into(),
            access_token_ttl_secs: 900,
            session_ttl_hours: 24 * 30,
            password_min_length: 12,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            hash_concurrency: 0,
            hash_queue_per_address: 2,
            hash_queue_limit: 32,
            lockout_threshold: 5,
            lockout_minutes: 15,
            rate_limits: AuthRateLimits::default(),
            rate_limit_per_minute: 0,
            require_verified_email: false,
            trusted_proxies: Vec::new(),
            allow_registration: true,
            session_cache_ms: 1_000,
            totp: super::TotpConfig::default(),
            passkeys: super::PasskeysConfig::default(),
        }
    }
}

/// `[auth.rate_limits]`: requests a minute one client address may make to each family of auth
/// routes, each with its own budget. 0 switches a limit off (for load tests, or when a proxy in
/// front already limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthRateLimits {
    /// `POST /login`, `/login/second-factor`, `/password`, `/email` and the TOTP routes: each
    /// takes a guess at a password or a second factor.
    pub login: u32,
    /// `POST /register`.
    pub register: u32,
    /// `POST /verify`.
    pub verify: u32,
    /// `POST /refresh`: clients refresh routinely, so it has the largest budget.
    pub refresh: u32,
    /// `POST /password-reset` and `POST /password-reset/confirm`.
    pub password_reset: u32,
}

impl Default for AuthRateLimits {
    fn default() -> Self {
        Self {
            login: 20,
            register: 10,
            verify: 20,
            refresh: 60,
            password_reset: 10,
        }
    }
}

impl AuthConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.password_min_length < 8 {
            return invalid("auth.password_min_length must be at least 8");
        }
        if self.argon2_memory_kib < 19_456 || self.argon2_iterations < 2 {
            return invalid(
                "auth.argon2_memory_kib must be at least 19456 and auth.argon2_iterations at least 2 (OWASP minimums)",
            );
        }
        if self.access_token_ttl_secs == 0 || self.session_ttl_hours == 0 {
            return invalid(
                "auth.access_token_ttl_secs and auth.session_ttl_hours must be positive",
            );
        }
        if self.lockout_threshold == 0 || self.lockout_minutes == 0 {
            return invalid("auth.lockout_threshold and auth.lockout_minutes must be positive");
        }
        if self.session_cache_ms > MAX_SESSION_CACHE_MS {
            return Err(ConfigError::Invalid(format!(
                "auth.session_cache_ms is {}, above the limit of {MAX_SESSION_CACHE_MS} (one minute): \
                 it is how long other nodes may keep accepting a revoked session's access tokens; \
                 use 1000 (the default), or 0 to check every request against the database",
                self.session_cache_ms
            )));
        }
        self.totp.validate()?;
        self.passkeys.settings()?;
        self.proxies().map(|_| ())
    }

    /// The trusted proxies as addresses.
    pub fn proxies(&self) -> Result<Vec<IpAddr>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpAddr>().map_err(|_| {
                    ConfigError::Invalid(format!("auth.trusted_proxies: `{p}` is not an IP address; list exact addresses such as 10.0.0.1"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cache_interval_is_bounded_and_may_be_off() {
        let mut auth = AuthConfig::default();
        assert_eq!(auth.session_cache_ms, 1_000);
        for ok in [0, 1_000, MAX_SESSION_CACHE_MS] {
            auth.session_cache_ms = ok;
            assert!(auth.validate().is_ok(), "{ok} ms is accepted");
        }
        auth.session_cache_ms = MAX_SESSION_CACHE_MS + 1;
        let error = auth.validate().map_err(|e| e.to_string());
        assert!(
            error.as_ref().is_err_and(
                |e| e.contains("auth.session_cache_ms is 60001, above the limit of 60000")
            ),
            "{error:?}"
        );
    }
}
