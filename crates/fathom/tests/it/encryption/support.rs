//! A schema with encrypted fields and key files for it.

use std::path::{Path, PathBuf};

use fathom::Config;
use tempfile::TempDir;

use crate::helpers::{TestApp, spawn_app_with};

/// `people.email` is encrypted with a blind index and unique; `people.ssn` is encrypted only.
pub const SCHEMA: &str = r#"
[collections.people]
fields.name  = { type = "text", required = true }
fields.email = { type = "email", encrypted = true, blind_index = true, unique = true }
fields.ssn   = { type = "text", encrypted = true, max_length = 40 }
"#;

/// Plaintexts distinctive enough that finding them anywhere means a leak.
pub const SSN: &str = "SSN-canary-7361-4402";
pub const SSN_CHANGED: &str = "SSN-canary-changed-9917";
pub const EMAIL: &str = "canary.person@example.com";

/// A key file with one data key `id` (and a blind key), in a directory of its own.
pub fn key_file(id: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("key dir");
    let path = dir.path().join("fathom.keys");
    let text = fathom_store::KeyRing::generate_file(id).expect("random keys");
    std::fs::write(&path, text).expect("write key file");
    (dir, path)
}

pub fn with_keys(path: &Path) -> impl FnOnce(&mut Config) + use<> {
    let path = path.to_path_buf();
    move |config: &mut Config| config.encryption.key_file = Some(path)
}

/// A server on [`SCHEMA`] with a fresh key file (kept alive by the returned directory).
pub async fn spawn_encrypted() -> (TestApp, TempDir, PathBuf) {
    let (dir, path) = key_file("k1");
    let app = spawn_app_with(SCHEMA, with_keys(&path)).await;
    (app, dir, path)
}
