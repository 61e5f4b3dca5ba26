//! `[webhooks]`: delivery of events to administrators' HTTP endpoints (`docs/WEBHOOKS.md`).

use std::time::Duration;

use fathom_core::outbound::Backoff;
use fathom_webhooks::WebhookSettings;
use fathom_webhooks::ssrf::Network;
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Whether this node runs delivery workers (on PostgreSQL one node delivers per endpoint
    /// at a time, whichever holds its lease).
    pub deliver: bool,
    /// Seconds a rotated-out secret keeps signing beside the new one.
    pub secret_overlap_secs: u64,
    /// Messages in flight per endpoint; 1 delivers strictly in sequence order.
    pub in_flight: usize,
    pub connect_timeout_ms: u64,
    /// The whole attempt: connect, send, and read the response.
    pub timeout_ms: u64,
    /// The retry schedule: retry n waits a random time up to min(retry_cap, retry_base * 2^n).
    pub retry_base_ms: u64,
    pub retry_cap_secs: u64,
    /// Retries after the first attempt; then the message is dead-lettered.
    pub retries: u32,
    /// The longest `Retry-After` honoured.
    pub max_retry_after_secs: u64,
    /// Consecutive failures that open an endpoint's circuit breaker.
    pub breaker_threshold: u32,
    /// Seconds an open breaker waits before a probe.
    pub breaker_cooldown_secs: u64,
    /// Milliseconds an endpoint's delivery lease lasts; another node takes over within this
    /// time when the holder dies.
    pub lease_ms: u64,
    /// Networks (CIDR or single addresses) webhooks may reach although they are not public:
    /// for local receivers in development and tests. Empty in production.
    pub allow_networks: Vec<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        let d = WebhookSettings::default();
        Self {
            deliver: d.deliver,
            secret_overlap_secs: d.secret_overlap.as_secs(),
            in_flight: d.in_flight,
            connect_timeout_ms: millis(d.connect_timeout),
            timeout_ms: millis(d.timeout),
            retry_base_ms: millis(d.retry.base),
            retry_cap_secs: d.retry.cap.as_secs(),
            retries: d.retry.retries,
            max_retry_after_secs: d.max_retry_after.as_secs(),
            breaker_threshold: d.breaker_threshold,
            breaker_cooldown_secs: d.breaker_cooldown.as_secs(),
            lease_ms: millis(d.lease),
            allow_networks: Vec::new(),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn invalid(message: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(message))
}

impl WebhooksConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=64).contains(&self.in_flight) {
            return invalid(format!(
                "webhooks.in_flight is {}, but must be between 1 and 64; hint: 1 keeps strict order",
                self.in_flight
            ));
        }
        for (key, value) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("timeout_ms", self.timeout_ms),
            ("retry_base_ms", self.retry_base_ms),
            ("retry_cap_secs", self.retry_cap_secs),
            ("breaker_cooldown_secs", self.breaker_cooldown_secs),
        ] {
            if value == 0 {
                return invalid(format!(
                    "webhooks.{key} is 0, but must be at least 1; hint: leave it out for the default"
                ));
            }
        }
        if self.lease_ms < 100 {
            return invalid(format!(
                "webhooks.lease_ms is {}, but must be at least 100; hint: 10000 hands an endpoint to another node within 10 s of its holder dying",
                self.lease_ms
            ));
        }
        if self.breaker_threshold == 0 {
            return invalid(
                "webhooks.breaker_threshold must be at least 1; hint: 5 opens the breaker after five failures in a row".into(),
            );
        }
        if let Some(bad) = self
            .allow_networks
            .iter()
            .find(|n| Network::parse(n).is_none())
        {
            return invalid(format!(
                "webhooks.allow_networks holds {bad:?}, which is not a network; hint: write CIDRs such as \"127.0.0.0/8\" or \"::1/128\""
            ));
        }
        Ok(())
    }

    /// The webhooks crate's settings.
    pub fn settings(&self) -> WebhookSettings {
        WebhookSettings {
            deliver: self.deliver,
            secret_overlap: Duration::from_secs(self.secret_overlap_secs),
            in_flight: self.in_flight,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            retry: Backoff {
                base: Duration::from_millis(self.retry_base_ms),
                cap: Duration::from_secs(self.retry_cap_secs),
                retries: self.retries,
            },
            max_retry_after: Duration::from_secs(self.max_retry_after_secs),
            breaker_threshold: self.breaker_threshold,
            breaker_cooldown: Duration::from_secs(self.breaker_cooldown_secs),
            lease: Duration::from_millis(self.lease_ms),
            allow_networks: self
                .allow_networks
                .iter()
                .filter_map(|n| Network::parse(n))
                .collect(),
        }
    }
}
