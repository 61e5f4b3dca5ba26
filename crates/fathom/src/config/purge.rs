//! `[purge]`: an optional schedule for `fathom purge` inside `serve`.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Removes soft-deleted records older than `older_than_days`, every `every_minutes`, on each
/// node (purges are idempotent: two nodes purging together remove each record once).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PurgeConfig {
    /// Records soft-deleted longer ago than this many days are removed for good; 0 (the
    /// default) never purges on a schedule.
    pub older_than_days: u64,
    /// How often the scheduled purge runs.
    pub every_minutes: u64,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        Self {
            older_than_days: 0,
            every_minutes: 60,
        }
    }
}

impl PurgeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.older_than_days > 36_500 {
            return Err(ConfigError::Invalid(format!(
                "purge.older_than_days is {}, above 36500 (a century); hint: 30 keeps deleted records a month, 0 turns the schedule off",
                self.older_than_days
            )));
        }
        if !(1..=10_080).contains(&self.every_minutes) {
            return Err(ConfigError::Invalid(format!(
                "purge.every_minutes is {}, but must be between 1 and 10080 (a week); hint: 60 purges hourly",
                self.every_minutes
            )));
        }
        Ok(())
    }
}
