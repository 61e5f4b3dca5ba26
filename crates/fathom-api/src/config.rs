//! The HTTP-level settings the router needs (a slice of the server's configuration).

use std::time::Duration;

/// Limits and policies applied to every request.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Deepest accepted nesting of arrays and objects in a JSON body.
    pub json_depth_limit: usize,
    /// A request that takes longer is answered with 503 `request_timeout`.
    pub request_timeout: Duration,
    /// A request whose write has reached the database is given this long in all (at least
    /// `request_timeout`) to learn the write's outcome; past it, 504 `write_outcome_unknown`.
    pub write_timeout: Duration,
    /// Origins allowed by CORS. Empty denies every cross-origin request; `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security` (turn on when clients reach Fathom over TLS).
    pub hsts: bool,
    /// Page size when a list request gives no `limit`.
    pub default_page_size: u32,
    /// The largest `limit` a list request may ask for.
    pub max_page_size: u32,
    /// How long the response to a write with an `Idempotency-Key` is kept for replay.
    pub idempotency_ttl: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            json_depth_limit: 32,
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            cors_origins: Vec::new(),
            hsts: false,
            default_page_size: 20,
            max_page_size: 100,
            idempotency_ttl: Duration::from_secs(24 * 3600),
        }
    }
}
