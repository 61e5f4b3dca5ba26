//! `[events]`: how long the outbox keeps events for the change feed and realtime resumes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Outbox retention. Events past either limit are pruned in the background in small batches;
/// a reader resuming from before the oldest kept event is told so (`410 events_expired`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Events older than this many hours are removed.
    pub retention_hours: u64,
    /// At most this many of the newest events are kept.
    pub retention_count: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retention_hours: 168,
            retention_count: 1_000_000,
        }
    }
}

impl EventsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=24 * 365 * 10).contains(&self.retention_hours) {
            return Err(ConfigError::Invalid(format!(
                "events.retention_hours is {}, but must be between 1 and 87600 (ten years); hint: 168 keeps a week",
                self.retention_hours
            )));
        }
        if self.retention_count == 0 {
            return Err(ConfigError::Invalid(
                "events.retention_count must be at least 1; hint: 1000000 keeps a million events"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The store's retention policy.
    pub fn retention(&self) -> fathom_store::Retention {
        fathom_store::Retention {
            max_age: Duration::from_secs(self.retention_hours.saturating_mul(3600)),
            max_count: self.retention_count,
        }
    }
}
