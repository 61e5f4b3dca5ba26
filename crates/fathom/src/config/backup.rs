//! `[backup]`: scheduled online backups of the SQLite database inside `serve`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Every `every_minutes` (0: never), `serve` writes a checked copy of the SQLite database into
/// `dir` (default `<data_dir>/backups`) and keeps the newest `keep`. Ignored on PostgreSQL,
/// whose own tools back it up (docs/RELIABILITY.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    pub every_minutes: u64,
    pub dir: Option<PathBuf>,
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            every_minutes: 0,
            dir: None,
            keep: 7,
        }
    }
}

impl BackupConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.every_minutes > 0 && self.keep == 0 {
            return Err(ConfigError::Invalid(
                "backup.keep is 0, so every scheduled backup would be deleted at once; hint: 7 keeps a week of daily backups".into(),
            ));
        }
        Ok(())
    }
}
