//! `[architect]`: the query shapes the store records for the advisor, and what the architect
//! records and when it advises (docs/ARCHITECT.md). Client advice has its own table, `[architect.clients]`: how many callers and reads each node
//! remembers, and the thresholds of each pattern.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[architect]`: how query shapes are recorded and persisted; client advice in its own table.
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
    /// `[architect.clients]`: client advice.
    pub clients: ClientAdviceConfig,
}

impl Default for ArchitectConfig {
    fn default() -> Self {
        Self {
            record_shapes: true,
            max_shapes: fathom_store::shapes::DEFAULT_MAX_SHAPES,
            flush_interval_secs: 60,
            clients: ClientAdviceConfig::default(),
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
        self.clients.validate()
    }
}

/// `[architect.clients]`: the per-node recorder of request patterns and its thresholds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientAdviceConfig {
    /// Record the records reads' patterns and advise clients.
    pub enabled: bool,
    /// The most callers (users, API keys, anonymous addresses) a node remembers; the least
    /// recently seen is forgotten first.
    pub max_callers: usize,
    /// The most recent reads remembered per caller; more than `n_plus_one_gets`.
    pub window: usize,
    /// Gets by id on one collection soon after a list that make an N+1 burst.
    pub n_plus_one_gets: usize,
    /// How soon after the list, in milliseconds.
    pub n_plus_one_window_ms: u64,
    /// The smallest `offset` flagged as large.
    pub large_offset: u64,
    /// Consecutive pages asking for `count=true` that are flagged, on a large collection.
    pub count_pages: u32,
    /// Consecutive unfiltered pages of a large collection that make an unbounded scan.
    pub scan_pages: u32,
    /// How many records make a collection large.
    pub large_collection: u64,
}

impl Default for ClientAdviceConfig {
    fn default() -> Self {
        let d = fathom_api::ClientAdviceSettings::default();
        Self {
            enabled: d.enabled,
            max_callers: d.max_callers,
            window: d.window,
            n_plus_one_gets: d.n_plus_one_gets,
            n_plus_one_window_ms: u64::try_from(d.n_plus_one_window.as_millis()).unwrap_or(1000),
            large_offset: d.large_offset,
            count_pages: d.count_pages,
            scan_pages: d.scan_pages,
            large_collection: d.large_collection,
        }
    }
}

fn invalid(key: &str, value: impl std::fmt::Display, hint: &str) -> ConfigError {
    ConfigError::Invalid(format!("architect.clients.{key} is {value}; hint: {hint}"))
}

impl ClientAdviceConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(16..=1_000_000).contains(&self.max_callers) {
            return Err(invalid(
                "max_callers",
                self.max_callers,
                "use 16 to 1000000 (4096, the default, costs about 2 MiB)",
            ));
        }
        if !(2..=1024).contains(&self.window) {
            return Err(invalid(
                "window",
                self.window,
                "use 2 to 1024 reads (32 is the default)",
            ));
        }
        if self.n_plus_one_gets < 1 || self.n_plus_one_gets >= self.window {
            return Err(invalid(
                "n_plus_one_gets",
                self.n_plus_one_gets,
                "use at least 1 and fewer than `window` (the list and its gets must fit in it)",
            ));
        }
        if !(1..=60_000).contains(&self.n_plus_one_window_ms) {
            return Err(invalid(
                "n_plus_one_window_ms",
                self.n_plus_one_window_ms,
                "use 1 to 60000 milliseconds (1000 is the default)",
            ));
        }
        for (key, value) in [
            ("large_offset", self.large_offset),
            ("count_pages", u64::from(self.count_pages)),
            ("scan_pages", u64::from(self.scan_pages)),
            ("large_collection", self.large_collection),
        ] {
            if value == 0 {
                return Err(invalid(key, 0, "use at least 1 (0 would flag every read)"));
            }
        }
        Ok(())
    }

    /// The settings `fathom-api` takes.
    pub fn settings(&self) -> fathom_api::ClientAdviceSettings {
        fathom_api::ClientAdviceSettings {
            enabled: self.enabled,
            max_callers: self.max_callers,
            window: self.window,
            n_plus_one_gets: self.n_plus_one_gets,
            n_plus_one_window: Duration::from_millis(self.n_plus_one_window_ms),
            large_offset: self.large_offset,
            count_pages: self.count_pages,
            scan_pages: self.scan_pages,
            large_collection: self.large_collection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_bad_bounds_are_named() {
        let config = ClientAdviceConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(
            config.settings(),
            fathom_api::ClientAdviceSettings::default()
        );
        let error = ClientAdviceConfig {
            n_plus_one_gets: 40,
            ..ClientAdviceConfig::default()
        }
        .validate()
        .expect_err("more gets than the window holds");
        assert!(
            error
                .to_string()
                .contains("architect.clients.n_plus_one_gets is 40"),
            "{error}"
        );
        let error = ClientAdviceConfig {
            max_callers: 0,
            ..ClientAdviceConfig::default()
        }
        .validate()
        .expect_err("no callers");
        assert!(error.to_string().contains("max_callers is 0"), "{error}");
        let error = ClientAdviceConfig {
            large_offset: 0,
            ..ClientAdviceConfig::default()
        }
        .validate()
        .expect_err("every offset");
        assert!(error.to_string().contains("large_offset is 0"), "{error}");
    }

    #[test]
    fn the_environment_reaches_the_servers_settings_and_is_validated() {
        let env = |key: &str, value: &str| vec![(key.to_owned(), value.to_owned())];
        let config = super::super::Config::load(
            None,
            env("FATHOM_ARCHITECT__CLIENTS__LARGE_OFFSET", "5000"),
            &super::super::Overrides::default(),
        )
        .expect("loads");
        assert_eq!(config.http_config().client_advice.large_offset, 5000);
        let error = super::super::Config::load(
            None,
            env("FATHOM_ARCHITECT__CLIENTS__WINDOW", "1"),
            &super::super::Overrides::default(),
        )
        .expect_err("a window of one read");
        // The source is named (the report's annotation, which knows two-level keys only,
        // places it after `architect.clients`).
        let message = error.to_string();
        assert!(message.contains("window is 1"), "{message}");
        assert!(
            message.contains("FATHOM_ARCHITECT__CLIENTS__WINDOW"),
            "{message}"
        );
    }
}
