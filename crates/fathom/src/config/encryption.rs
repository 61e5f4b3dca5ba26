//! `[encryption]`: where the field-encryption key ring is read from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use fathom_store::KeyRing;

/// The key ring of encrypted fields. Keys live in a file of their own (never in the database or
/// the schema file); `FATHOM_ENCRYPTION__KEY_FILE` names it from the environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionConfig {
    /// The key file: one key a line, `data <id> <base64>` (the last one encrypts new values,
    /// all of them decrypt) and `blind <id> <base64>` (blind indexes). Create one with
    /// `fathom keys new-data-key --file <path>`. Without it, a schema with encrypted fields is
    /// refused at start-up.
    pub key_file: Option<PathBuf>,
}

impl EncryptionConfig {
    /// The key ring, if a key file is configured; an error names the file and the line, never a
    /// key.
    pub fn key_ring(&self) -> anyhow::Result<Option<Arc<KeyRing>>> {
        let Some(path) = &self.key_file else {
            return Ok(None);
        };
        load(path).map(Some)
    }
}

/// Reads and parses a key file.
pub fn load(path: &Path) -> anyhow::Result<Arc<KeyRing>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the encryption key file {}: {e}\nhint: check encryption.key_file (or FATHOM_ENCRYPTION__KEY_FILE); without the key file encrypted values cannot be read, so the server does not start",
            path.display()
        )
    })?;
    KeyRing::parse(&text).map(Arc::new).map_err(|e| {
        anyhow::anyhow!(
            "the encryption key file {} is not usable: {e}\nhint: each line is `data <id> <base64 of 32 bytes>` or `blind <id> <base64 of 32 bytes>`",
            path.display()
        )
    })
}
