//! `[idempotency]`: how long the response to a write with an `Idempotency-Key` is kept for replay.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The published expiry policy of idempotency keys (see `docs/API.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdempotencyConfig {
    /// A key's stored response is replayed for this many seconds after the write; then the key
    /// is forgotten (pruned in the background) and may be used again.
    pub ttl_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self { ttl_secs: 86_400 }
    }
}

impl IdempotencyConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=30 * 86_400).contains(&self.ttl_secs) {
            return Err(ConfigError::Invalid(format!(
                "idempotency.ttl_secs is {}, but must be between 1 and 2592000 (30 days); hint: 86400 keeps keys for a day",
                self.ttl_secs
            )));
        }
        Ok(())
    }
}
