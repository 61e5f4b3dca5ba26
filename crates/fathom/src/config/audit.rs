//! `[audit]`: how long the hash-chained audit log keeps its entries (default: for ever).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Audit retention. Entries past either limit are pruned in the background, a batch at a time,
/// each batch leaving a checkpoint entry with the hash of the last entry it removed, so
/// `fathom audit verify` still passes (see docs/AUDIT.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Entries older than this many days are removed; 0 keeps them.
    pub retention_days: u64,
    /// At most this many of the newest entries (checkpoints not counted) are kept; 0 keeps all.
    pub retention_count: u64,
}

impl AuditConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.retention_days > 36_500 {
            return Err(ConfigError::Invalid(format!(
                "audit.retention_days is {}, above the limit of 36500 (a century); hint: 0 keeps entries for ever, 365 keeps a year",
                self.retention_days
            )));
        }
        Ok(())
    }

    /// The store's retention policy.
    pub fn retention(&self) -> fathom_store::AuditRetention {
        fathom_store::AuditRetention {
            max_age: (self.retention_days > 0)
                .then(|| Duration::from_secs(self.retention_days.saturating_mul(86_400))),
            max_count: (self.retention_count > 0).then_some(self.retention_count),
        }
    }
}
