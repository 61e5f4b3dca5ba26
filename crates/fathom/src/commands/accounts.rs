//! `fathom users create`, `fathom users list` and `fathom users delete`: account management from
//! the command line, on the configured database, with the same rules as the admin API
//! (`/api/v1/admin/users`): roles and tenants checked alike, the password policy, and on
//! deletion each relation's `on_delete` for the records pointing at the account. As with
//! `create-admin`, a password never appears on the command line.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use fathom_store::{AuditEntry, NewUser, Origin, StoreErrorKind};
use uuid::Uuid;

use super::users::{checked_hash, read_password_from};
use crate::app::open_store;
use crate::cli::CommonArgs;

/// A new account as the command line describes it.
pub struct NewAccount {
    pub email: String,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    pub verified: bool,
}

pub async fn create(
    args: &CommonArgs,
    account: NewAccount,
    password_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let email = account.email.trim().to_lowercase();
    let roles = if account.roles.is_empty() {
        vec!["user".to_owned()]
    } else {
        account.roles
    };
    if let Some(bad) = roles.iter().find(|r| !fathom_api::is_role_name(r)) {
        bail!("`{bad}` is not a role name: use 1 to 32 lowercase letters, digits, `_` or `-`");
    }
    if let Some(tenant) = &account.tenant
        && !fathom_api::is_tenant_id(tenant)
    {
        bail!("the tenant must be 1 to 128 characters without control characters");
    }
    let password = read_password_from(password_file, "FATHOM_USER_PASSWORD", "the new user")?;
    let hash = checked_hash(&config, &password, &email).await?;
    let store = open_store(&config, "fathom.db").await?;
    let user = NewUser {
        email: email.clone(),
        password_hash: hash,
        roles,
        tenant: account.tenant,
        verified: account.verified,
    };
    let user = match store.create_user(user).await {
        Ok(user) => user,
        Err(e) if matches!(e.kind, StoreErrorKind::UniqueViolation { .. }) => {
            bail!("an account with the email {email} already exists")
        }
        Err(e) => bail!("creating the user failed: {}", e.detail),
    };
    let audit = AuditEntry {
        action: "admin_user_create".into(),
        outcome: "success".into(),
        target: Some(user.id.to_string()),
        detail: Some(format!("fathom users create, roles {:?}", user.roles)),
        ..AuditEntry::default()
    };
    store
        .audit(audit)
        .await
        .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
    println!("Created user {email} ({}).", user.id);
    Ok(ExitCode::SUCCESS)
}

pub async fn list(args: &CommonArgs, email: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    let mut users = Vec::new();
    if let Some(email) = email {
        users.extend(
            store
                .user_by_email(email.trim())
                .await
                .map_err(|e| anyhow!("reading users: {}", e.detail))?,
        );
    } else {
        let mut after = None;
        loop {
            let page = store
                .users(after, 200)
                .await
                .map_err(|e| anyhow!("reading users: {}", e.detail))?;
            after = page.last().map(|u| u.id);
            let done = page.len() < 200;
            users.extend(page);
            if done {
                break;
            }
        }
    }
    for user in &users {
        if json {
            let line = serde_json::json!({
                "id": user.id, "email": user.email, "roles": user.roles, "tenant": user.tenant,
                "verified": user.verified, "disabled": user.disabled, "created_at": user.created_at,
            });
            println!("{line}");
        } else {
            println!(
                "{}  {}  roles={}  tenant={}  verified={}  disabled={}",
                user.id,
                user.email,
                user.roles.join(","),
                user.tenant.as_deref().unwrap_or("-"),
                user.verified,
                user.disabled
            );
        }
    }
    if !json {
        eprintln!("{} user(s).", users.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn delete(args: &CommonArgs, id: &str) -> anyhow::Result<ExitCode> {
    let Ok(id) = Uuid::parse_str(id) else {
        bail!("`{id}` is not a user id (a UUID)");
    };
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    match store.delete_user(id, Origin::system()).await {
        Ok(true) => {}
        Ok(false) => bail!("no user has the id {id}"),
        Err(e) if e.kind == StoreErrorKind::ForeignKeyViolation => bail!(
            "records still point at this user through a relation with on_delete = \"restrict\"; \
             delete or repoint them first"
        ),
        Err(e) => bail!("deleting the user failed: {}", e.detail),
    }
    let audit = AuditEntry {
        action: "admin_user_delete".into(),
        outcome: "success".into(),
        target: Some(id.to_string()),
        detail: Some("fathom users delete".into()),
        ..AuditEntry::default()
    };
    store
        .audit(audit)
        .await
        .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
    println!("Deleted user {id}.");
    Ok(ExitCode::SUCCESS)
}
