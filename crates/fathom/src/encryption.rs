//! Start-up checks of field encryption, and the demo's development key.
//!
//! A server whose schema encrypts fields starts only with a key ring, and only when the ring
//! holds every key a stored value names: a missing key is refused loudly at start-up rather
//! than answered with errors (or garbage) record by record later. `fathom serve` never invents a
//! key; only the demo creates a development key file in its data directory.

use std::path::{Path, PathBuf};

use anyhow::bail;
use fathom_schema::Schema;
use fathom_store::{KeyRing, PLAINTEXT, Store};

/// The demo's key file, in its data directory.
pub const DEMO_KEY_FILE: &str = "demo-encryption.keys";

/// The key ring a schema with encrypted fields needs (`None` when it encrypts nothing), or the
/// refusal to go on without one: Fathom does not invent keys outside the demo.
pub fn require_ring<'s>(store: &'s Store, schema: &Schema) -> anyhow::Result<Option<&'s KeyRing>> {
    let encrypted: Vec<String> = schema
        .collections
        .values()
        .flat_map(|c| {
            c.fields
                .iter()
                .filter(|f| f.encrypted)
                .map(|f| format!("{}.{}", c.name, f.name))
        })
        .collect();
    if encrypted.is_empty() {
        return Ok(None);
    }
    let Some(keys) = store.key_ring() else {
        bail!(
            "the schema encrypts {} but no encryption key file is configured, and Fathom does not invent keys outside the demo\nhint: create one with `fathom keys new-data-key --file /path/to/fathom.keys`, keep it out of the database and version control, and set encryption.key_file (or FATHOM_ENCRYPTION__KEY_FILE) to it",
            encrypted.join(", ")
        );
    };
    Ok(Some(keys))
}

/// Refuses to start when the schema encrypts fields and there is no key ring, when it has blind
/// indexes and the ring no blind key, or when stored values name a key the ring does not hold.
pub async fn check_keys(store: &Store, schema: &Schema) -> anyhow::Result<()> {
    let Some(keys) = require_ring(store, schema)? else {
        return Ok(());
    };
    let blind = schema
        .collections
        .values()
        .any(|c| c.fields.iter().any(|f| f.blind_index));
    if blind && !keys.has_blind_key() {
        bail!(
            "the schema has blind-indexed fields but the key file holds no `blind` key\nhint: add a line `blind <id> <base64 of 32 random bytes>` to the key file"
        );
    }
    let usage = store
        .key_usage(schema)
        .await
        .map_err(|e| anyhow::anyhow!("reading which keys the stored values need: {}", e.detail))?;
    let missing: Vec<String> = usage
        .iter()
        .filter(|u| u.key != PLAINTEXT && !keys.has_key(&u.key))
        .map(|u| {
            format!(
                "key `{}` ({} values of {}.{})",
                u.key, u.values, u.collection, u.field
            )
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "the database holds values encrypted under keys the key file does not have: {}\nhint: restore the key file that held them (keys are never stored in the database); without it those values cannot be read",
            missing.join(", ")
        );
    }
    let fields = schema
        .collections
        .values()
        .map(|c| c.fields.iter().filter(|f| f.encrypted).count())
        .sum::<usize>();
    tracing::info!(
        writing_key = keys.writing_key(),
        fields,
        "field encryption is on"
    );
    // Plaintext in an encrypted field is a conversion not yet run (the field was encrypted with
    // data in it): served correctly, but not yet protected at rest.
    for u in usage.iter().filter(|u| u.key == PLAINTEXT) {
        tracing::warn!(
            collection = %u.collection,
            field = %u.field,
            values = u.values,
            "values of an encrypted field are still stored as plaintext; run `fathom migrate apply` to encrypt them"
        );
    }
    Ok(())
}

/// The demo's development key file under `data_dir`, created (with fresh random keys) when it
/// does not exist yet.
pub fn demo_key_file(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(DEMO_KEY_FILE);
    if !path.exists() {
        std::fs::create_dir_all(data_dir)?;
        let text = KeyRing::generate_file("demo-1")
            .map_err(|e| anyhow::anyhow!("creating the demo's development key: {e}"))?;
        write_private(&path, &text)?;
    }
    Ok(path)
}

/// Writes a key file readable by its owner only (on Unix).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create the key file {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
