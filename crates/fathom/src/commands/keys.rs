//! `fathom keys rotate|list|create|revoke`: the Ed25519 keys that sign access tokens (running
//! servers pick up a new key within a minute, or at once when they meet a token it signed), and
//! the API keys of services (shown once at creation, stored hashed, revocable).

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
    println!("Signing keys (they sign access tokens): {}", keys.len());
    if keys.is_empty() {
        println!("  none yet; `fathom serve` creates the first.");
    }
    for key in keys {
        let state = match key.retired_at {
            Some(at) => format!("retired {}", unix_date(at)),
            None => "signing".to_owned(),
        };
        println!(
            "{}  created {}  {state}",
            key.kid,
            unix_date(key.created_at)
        );
    }
    let api_keys = store
        .api_keys()
        .await
        .map_err(|e| anyhow!("reading the API keys: {}", e.detail))?;
    println!(
        "\nAPI keys (services authenticate with them): {}",
        api_keys.len()
    );
    for key in api_keys {
        let state = key
            .revoked_at
            .map_or("live".to_owned(), |at| format!("revoked {at}"));
        println!(
            "{}  fth_{}_…  {:?}  scopes {}  tenant {}  created {}  {state}",
            key.id,
            key.prefix,
            key.name,
            key.scopes.join(" "),
            key.tenant.as_deref().unwrap_or("*"),
            key.created_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A signing key's date (stored as Unix seconds) in RFC 3339, like every other date printed.
fn unix_date(seconds: i64) -> String {
    fathom_schema::value::format_unix_seconds(seconds)
        .unwrap_or_else(|| format!("{seconds} (Unix seconds)"))
}

pub async fn create(
    args: &CommonArgs,
    name: &str,
    scopes: &[String],
    tenant: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let scopes = fathom_api::parse_scopes(&schema, scopes).map_err(|e| anyhow!("{e}"))?;
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(anyhow!(
            "--name must say what the key is for, in 1 to 100 characters"
        ));
    }
    if let Some(t) = &tenant
        && (t.is_empty() || t.len() > 128)
    {
        return Err(anyhow!("--tenant must be 1 to 128 characters"));
    }
    let store = open_store(&config, "fathom.db").await?;
    let (record, key) = fathom_api::issue_api_key(&store, name.trim(), &scopes, tenant)
        .await
        .map_err(|e| anyhow!("storing the API key: {}", e.detail))?;
    let audit = AuditEntry {
        action: "api_key_created".into(),
        outcome: "success".into(),
        target: Some(record.id.to_string()),
        detail: Some(format!(
            "{} ({}) from the command line",
            record.name,
            record.scopes.join(" ")
        )),
        ..AuditEntry::default()
    };
    store
        .audit(audit)
        .await
        .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
    eprintln!("API key {} created; it is shown once, here:", record.id);
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(args: &CommonArgs, id: &str) -> anyhow::Result<ExitCode> {
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| anyhow!("`{id}` is not a key id; `fathom keys list` shows them"))?;
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    let Some(revoked) = store
        .revoke_api_key(id)
        .await
        .map_err(|e| anyhow!("revoking the API key: {}", e.detail))?
    else {
        return Err(anyhow!("no live API key has the id {id}"));
    };
    let audit = AuditEntry {
        action: "api_key_revoked".into(),
        outcome: "success".into(),
        target: Some(revoked.id.to_string()),
        detail: Some(format!("{} from the command line", revoked.name)),
        ..AuditEntry::default()
    };
    store
        .audit(audit)
        .await
        .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
    println!("Revoked API key {} ({}).", revoked.id, revoked.name);
    Ok(ExitCode::SUCCESS)
}
