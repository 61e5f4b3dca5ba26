//! `fathom keys new-data-key|status|rotate-data`: the field-encryption key file, what each key
//! protects, and re-encryption under the newest key while servers serve.

use std::path::Path;
use std::process::ExitCode;

use anyhow::anyhow;
use fathom_store::KeyRing;

use crate::app::open_store;
use crate::cli::CommonArgs;

/// Appends a new data key to `file` (which then writes with it), or creates the file with a
/// data key and a blind key. Prints the id, never the key.
pub fn new_data_key(file: &Path, id: Option<String>) -> anyhow::Result<ExitCode> {
    let id = id.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("k{now}")
    });
    let fresh = KeyRing::generate_file(&id).map_err(|e| anyhow!("generating a key: {e}"))?;
    if !file.exists() {
        crate::encryption::write_private(file, &fresh)?;
        println!(
            "Created the key file {} with data key `{id}` and a blind-index key. Keep it out of the database and version control; set encryption.key_file to it.",
            file.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let existing = std::fs::read_to_string(file)
        .map_err(|e| anyhow!("cannot read the key file {}: {e}", file.display()))?;
    let ring = KeyRing::parse(&existing)
        .map_err(|e| anyhow!("the key file {} is not usable: {e}", file.display()))?;
    if ring.has_key(&id) {
        return Err(anyhow!(
            "the key file already holds a data key `{id}`\nhint: choose another id with --id"
        ));
    }
    let line = KeyRing::data_key_line(&id).map_err(|e| anyhow!("generating a key: {e}"))?;
    let mut text = existing;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    text.push('\n');
    // Written beside the file and renamed over it, so a crash leaves the old file whole.
    let staging = file.with_extension("new");
    let _ = std::fs::remove_file(&staging);
    crate::encryption::write_private(&staging, &text)?;
    std::fs::rename(&staging, file)
        .map_err(|e| anyhow!("replacing the key file {}: {e}", file.display()))?;
    println!(
        "Added data key `{id}` to {}; restart the servers (or run `fathom serve` again) and new values are encrypted with it. Older keys keep decrypting.",
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints, per encrypted field, how many stored values each key protects.
pub async fn status(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let store = open_store(&config, "fathom.db").await?;
    let usage = store
        .key_usage(&schema)
        .await
        .map_err(|e| anyhow!("reading the encrypted fields: {}", e.detail))?;
    if let Some(keys) = store.key_ring() {
        println!(
            "Key ring: data keys {}; new values use `{}`.",
            keys.key_ids().join(", "),
            keys.writing_key()
        );
    } else {
        println!("No key file is configured (encryption.key_file).");
    }
    if usage.is_empty() {
        println!("No stored encrypted values.");
    }
    let mut missing = false;
    for u in &usage {
        let known = store.key_ring().is_some_and(|k| k.has_key(&u.key));
        missing |= !known && u.key != fathom_store::PLAINTEXT;
        println!(
            "{}.{}: {} values under key `{}`{}",
            u.collection,
            u.field,
            u.values,
            u.key,
            if known || u.key == fathom_store::PLAINTEXT {
                ""
            } else {
                " (NOT in the key file)"
            }
        );
    }
    Ok(if missing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Re-encrypts every value under an older key with the writing key (and finishes any conversion
/// a change of a field's encryption left; see [`super::convert`]), batch after batch, printing
/// progress; safe to interrupt and run again.
pub async fn rotate_data(args: &CommonArgs, batch: u32) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let store = open_store(&config, "fathom.db").await?;
    crate::encryption::check_keys(&store, &schema).await?;
    let Some(keys) = store.key_ring() else {
        return Err(anyhow!(
            "no key file is configured\nhint: set encryption.key_file (or FATHOM_ENCRYPTION__KEY_FILE)"
        ));
    };
    let writing = keys.writing_key().to_owned();
    let limits = super::convert::Limits {
        batch: batch.clamp(1, 10_000),
        max_batches: None,
    };
    let report = super::convert::run(&store, &schema, limits).await?;
    println!(
        "Rotation done: {} records re-encrypted under `{writing}` ({} values) in {:.1} s ({:.0} records/s). Older keys can leave the key file once `fathom keys status` shows they protect nothing.",
        report.records,
        report.rewritten,
        report.seconds,
        report.records as f64 / report.seconds.max(1e-6)
    );
    if report.unopened > 0 {
        super::convert::print(&report, "fathom keys rotate-data");
    }
    Ok(ExitCode::SUCCESS)
}
