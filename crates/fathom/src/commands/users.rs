//! `fathom users create-admin`: the first administrator is made here, never through an open
//! endpoint. The password never appears on the command line (it would land in shell history and
//! process listings).

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use fathom_auth::{PasswordHasher, PasswordParams, PasswordPolicy};
use fathom_store::{AuditEntry, NewUser, StoreErrorKind};

use crate::app::open_store;
use crate::cli::CommonArgs;

fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    read_password_from(file, "FATHOM_ADMIN_PASSWORD", "the new administrator")
}

/// The password from `file`, else the variable `variable`, else one line of standard input.
pub(crate) fn read_password_from(
    file: Option<&Path>,
    variable: &str,
    whose: &str,
) -> anyhow::Result<String> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?;
        return Ok(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    if let Ok(password) = std::env::var(variable) {
        return Ok(password);
    }
    eprintln!("Password for {whose} (one line):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Checks `password` against the configured policy and hashes it with the configured argon2id
/// parameters.
pub(crate) async fn checked_hash(
    config: &crate::config::Config,
    password: &str,
    email: &str,
) -> anyhow::Result<String> {
    let policy =
        PasswordPolicy::new(config.auth.password_min_length).map_err(|e| anyhow!("{e}"))?;
    if let Err(violation) = policy.check(password, Some(email)) {
        bail!("the password is not accepted: {violation}");
    }
    let params = PasswordParams {
        memory_kib: config.auth.argon2_memory_kib,
        iterations: config.auth.argon2_iterations,
        parallelism: 1,
    };
    let hasher = PasswordHasher::new(params, 1).map_err(|e| anyhow!("{e}"))?;
    hasher
        .hash(password)
        .await
        .map_err(|e| anyhow!("hashing the password: {e}"))
}

pub async fn create_admin(
    args: &CommonArgs,
    email: &str,
    password_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let email = email.trim().to_lowercase();
    let password = read_password(password_file)?;
    let hash = checked_hash(&config, &password, &email).await?;
    let store = open_store(&config, "fathom.db").await?;
    let user = NewUser {
        email: email.clone(),
        password_hash: hash,
        roles: vec!["admin".into()],
        tenant: None,
        verified: true,
    };
    let user = match store.create_user(user).await {
        Ok(user) => user,
        Err(e) if matches!(e.kind, StoreErrorKind::UniqueViolation { .. }) => {
            bail!("an account with the email {email} already exists")
        }
        Err(e) => bail!("creating the administrator failed: {}", e.detail),
    };
    let audit = AuditEntry {
        action: "admin_created".into(),
        outcome: "success".into(),
        target: Some(user.id.to_string()),
        detail: Some("fathom users create-admin".into()),
        ..AuditEntry::default()
    };
    store
        .audit(audit)
        .await
        .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
    println!("Created administrator {email} ({}).", user.id);
    Ok(ExitCode::SUCCESS)
}
