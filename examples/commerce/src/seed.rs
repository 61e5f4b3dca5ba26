//! Accounts for a run: staff and customers of each store (tenant), created through the store
//! with the server's own password hasher, as `fathom users create` does.

use fathom_api::AppState;
use fathom_store::NewUser;
use uuid::Uuid;

/// The password of every account a run creates (a demo secret, never for production).
pub const PASSWORD: &str = "commerce example passphrase 2026";

/// Creates an account with `role` in `tenant`; returns its id.
pub async fn account(
    state: &AppState,
    email: &str,
    role: &str,
    tenant: &str,
) -> anyhow::Result<Uuid> {
    let hash = state
        .auth
        .hasher
        .hash(PASSWORD)
        .await
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let user = state
        .store
        .create_user(NewUser {
            email: email.to_owned(),
            password_hash: hash,
            roles: vec![role.to_owned()],
            tenant: Some(tenant.to_owned()),
            verified: true,
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating the account {email}: {}", e.detail))?;
    Ok(user.id)
}
