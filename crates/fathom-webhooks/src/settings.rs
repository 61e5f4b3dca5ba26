//! [`WebhookSettings`]: what the `[webhooks]` section of the configuration decides, as plain
//! values (the `fathom` crate reads and validates the file).

use std::time::Duration;

use fathom_core::outbound::Backoff;

use crate::ssrf::Network;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Whether this node runs delivery workers (the admin routes work either way).
    pub deliver: bool,
    /// How long a rotated-out secret keeps signing.
    pub secret_overlap: Duration,
    /// Messages in flight per endpoint (1 keeps strict order).
    pub in_flight: usize,
    pub connect_timeout: Duration,
    /// The whole attempt: connect, send, and read the response.
    pub timeout: Duration,
    /// The retry schedule after a failed attempt.
    pub retry: Backoff,
    /// The longest `Retry-After` honoured (a longer one waits this long).
    pub max_retry_after: Duration,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    /// The cursor lease of an endpoint's deliverer; another node takes over within this time
    /// after the holder dies.
    pub lease: Duration,
    /// Networks the SSRF guard lets through although they are not public (development, tests).
    pub allow_networks: Vec<Network>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            deliver: true,
            secret_overlap: Duration::from_secs(24 * 3600),
            in_flight: 1,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            // 17 retries, each waiting a random time up to 10 s, 20 s, 40 s, ... capped at 8 h:
            // at most about 51 h in all, about 26 h on average.
            retry: Backoff {
                base: Duration::from_secs(10),
                cap: Duration::from_secs(8 * 3600),
                retries: 17,
            },
            max_retry_after: Duration::from_secs(3600),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(60),
            lease: Duration::from_secs(10),
            allow_networks: Vec::new(),
        }
    }
}
