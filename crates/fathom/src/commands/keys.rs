//! `fathom keys rotate|list`: the Ed25519 keys that sign access tokens. Running servers pick up a
//! new key within a minute, or at once when they meet a token it signed.

use std::process::ExitCode;

use anyhow::anyhow;
use fathom_store::AuditEntry;

use crate::app::open_store;
use crate::cli::CommonArgs;

pub async fn rotate(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    let kid = fathom_api::rotate_signing_key(&store)
        .await
        .map_err(|e| anyhow!("rotating the signing key: {e}"))?;
    let audit = AuditEntry {
        action: "signing_key_rotated".into(),
        outcome: "success".into(),
        target: Some(kid.clone()),
        ..AuditEntry::default()
    };
    store
        .audit(audit)
        .await
        .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
    println!("New signing key {kid}. Older keys keep verifying the tokens they signed.");
    Ok(ExitCode::SUCCESS)
}

pub async fn list(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    let keys = store
        .signing_keys()
        .await
        .map_err(|e| anyhow!("reading the signing keys: {}", e.detail))?;
    if keys.is_empty() {
        println!("No signing key yet; `fathom serve` creates the first.");
    }
    for key in keys {
        let state = match key.retired_at {
            Some(at) => format!("retired at {at} (unix)"),
            None => "signing".to_owned(),
        };
        println!("{}  created {} (unix)  {state}", key.kid, key.created_at);
    }
    Ok(ExitCode::SUCCESS)
}
