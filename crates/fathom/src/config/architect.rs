//! `[architect]`: the query shapes the store records for the advisor (docs/ARCHITECT.md).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How query shapes are recorded and persisted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchitectConfig {
    /// Whether the store records the shape of every get, list and count it runs.
    pub record_shapes: bool,
    /// The most shapes a node holds in memory (the least-used is evicted past it), and the
    /// most rows kept in `_fathom_query_shapes`.
    pub max_shapes: usize,
    /// How often a node flushes its shapes to `_fathom_query_shapes` (and once when it stops).
    pub flush_interval_secs: u64,
}

impl Default for ArchitectConfig {
    fn default() -> Self {
        Self {
            record_shapes: true,
            max_shapes: fathom_store::shapes::DEFAULT_MAX_SHAPES,
            flush_interval_secs: 60,
        }
    }
}

impl ArchitectConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(10..=100_000).contains(&self.max_shapes) {
            return Err(ConfigError::Invalid(format!(
                "architect.max_shapes is {}, but must be between 10 and 100000; hint: 1000 holds the shapes of a typical application in about 1 MB",
                self.max_shapes
            )));
        }
        if !(1..=86_400).contains(&self.flush_interval_secs) {
            return Err(ConfigError::Invalid(format!(
                "architect.flush_interval_secs is {}, but must be between 1 and 86400 (a day); hint: 60 flushes once a minute",
                self.flush_interval_secs
            )));
        }
        Ok(())
    }
}
