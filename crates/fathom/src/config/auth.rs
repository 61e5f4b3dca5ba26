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
    /// Failed logins (across all addresses) before an account's logins are locked.
    pub lockout_threshold: u32,
    /// How long a lock lasts. Password reset stays available while locked.
    pub lockout_minutes: u64,
    /// Requests a minute one client address may make to `/api/v1/auth/*`.
    pub rate_limit_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed (exact addresses).
    pub trusted_proxies: Vec<String>,
    /// Whether `POST /api/v1/auth/register` is open.
    pub allow_registration: bool,
    /// How long, in milliseconds, a node trusts a session it found live before reading it
    /// again; 0 reads it on every request. A node forgets a session at once when it ends it
    /// itself; on other nodes a revoked session's access tokens keep working for up to this.
    pub session_cache_ms: u64,
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
            lockout_threshold: 5,
            lockout_minutes: 15,
            rate_limit_per_minute: 20,
            trusted_proxies: Vec::new(),
            allow_registration: true,
            session_cache_ms: 1_000,
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
        if self.lockout_threshold == 0 || self.rate_limit_per_minute == 0 {
            return invalid(
                "auth.lockout_threshold and auth.rate_limit_per_minute must be positive",
            );
        }
        if self.session_cache_ms > MAX_SESSION_CACHE_MS {
            return Err(ConfigError::Invalid(format!(
                "auth.session_cache_ms is {}, above the limit of {MAX_SESSION_CACHE_MS} (one minute): \
                 it is how long other nodes may keep accepting a revoked session's access tokens; \
                 use 1000 (the default), or 0 to check every request against the database",
                self.session_cache_ms
            )));
        }
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
