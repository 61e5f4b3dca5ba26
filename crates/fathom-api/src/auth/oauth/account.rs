//! Which account an OAuth sign-in reaches. The rules (docs/IDENTITY.md): a linked identity
//! signs in its account; a link flow links to the signed-in user when its code is redeemed with
//! the flow's verifier (`flow::token`); otherwise the identity joins
//! the account with the same email only when the provider says the email is verified AND the
//! account's email is verified; an unknown email makes a new account with no usable password.

use fathom_core::ErrorCode;
use fathom_store::{NO_PASSWORD, NewUser, PendingLink, StoreErrorKind, User};
use uuid::Uuid;

use super::provider::Profile;
use crate::AppState;
use crate::auth::tokens::{audit, invalid_credentials};
use crate::error::ApiError;

fn identity_taken() -> ApiError {
    ApiError::new(
        ErrorCode::OAuthIdentityTaken,
        "This provider identity is already linked to another account.",
        "Sign in with that identity instead, or unlink it from the other account first.",
    )
}

fn account_exists() -> ApiError {
    ApiError::new(
        ErrorCode::OAuthAccountExists,
        "An account with this email address exists, and the address is not verified both by the provider and on the account, so the identity was not linked.",
        "Sign in to the account another way, then link the identity with POST /api/v1/auth/oauth/{provider}/link.",
    )
}

/// Whether a store error is a unique violation (a concurrent link or registration won).
fn is_unique(e: &fathom_store::StoreError) -> bool {
    matches!(e.kind, StoreErrorKind::UniqueViolation { .. })
}

/// The account `profile` signs in to, linking or creating as the rules say; with the identity
/// a link flow is to link once its code is redeemed.
pub(super) async fn resolve(
    state: &AppState,
    provider: &str,
    profile: &Profile,
    link_user: Option<Uuid>,
) -> Result<(User, Option<PendingLink>), ApiError> {
    let store = &state.store;
    let linked = store.oauth_identity(provider, &profile.subject).await?;
    let (user_id, pending) = match (linked, link_user) {
        (Some(identity), Some(wanted)) if identity.user_id != wanted => {
            return Err(identity_taken());
        }
        (Some(identity), _) => (identity.user_id, None),
        (None, Some(wanted)) => {
            let pending = PendingLink {
                provider: provider.to_owned(),
                subject: profile.subject.clone(),
                email: profile.email.clone(),
            };
            (wanted, Some(pending))
        }
        (None, None) => return Ok((by_email(state, provider, profile).await?, None)),
    };
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or_else(invalid_credentials)?;
    Ok((admit(state, user).await?, pending))
}

/// Links an identity to `user_id` (a concurrent or earlier link of it elsewhere is a 409).
pub(super) async fn link(
    state: &AppState,
    user_id: Uuid,
    identity: PendingLink,
    how: &str,
) -> Result<(), ApiError> {
    let provider = identity.provider.clone();
    state
        .store
        .link_oauth_identity(user_id, identity.provider, identity.subject, identity.email)
        .await
        .map_err(|e| {
            if is_unique(&e) {
                identity_taken()
            } else {
                e.into()
            }
        })?;
    audit(
        state,
        "oauth_link",
        "success",
        Some(user_id.to_string()),
        Some(format!("{provider} ({how})")),
    )
    .await;
    Ok(())
}

/// A first sign-in with an identity: the account with its email, or a new one.
async fn by_email(state: &AppState, provider: &str, profile: &Profile) -> Result<User, ApiError> {
    let Some(email) = profile.email.clone().filter(|e| e.contains('@')) else {
        return Err(ApiError::new(
            ErrorCode::OAuthEmailUnavailable,
            "The provider reported no email address, which a new account needs.",
            "Allow the provider to share your email address (the `email` scope), then sign in again.",
        ));
    };
    if let Some(existing) = state.store.user_by_email(&email).await? {
        if !(profile.email_verified && existing.verified) {
            audit(
                state,
                "oauth_link",
                "denied",
                Some(existing.id.to_string()),
                Some(format!("{provider}: email not verified on both sides")),
            )
            .await;
            return Err(account_exists());
        }
        let identity = PendingLink {
            provider: provider.to_owned(),
            subject: profile.subject.clone(),
            email: profile.email.clone(),
        };
        link(state, existing.id, identity, "verified email").await?;
        return admit(state, existing).await;
    }
    if !state.auth.settings.allow_registration {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This server does not create accounts by sign-in (auth.allow_registration is off).",
            "Ask an administrator for an account, then link the identity to it.",
        ));
    }
    let user = NewUser {
        email,
        password_hash: NO_PASSWORD.to_owned(),
        roles: vec!["user".into()],
        tenant: None,
        verified: profile.email_verified,
    };
    let created = state
        .store
        .create_oauth_user(user, provider.to_owned(), profile.subject.clone())
        .await
        .map_err(|e| {
            if is_unique(&e) {
                account_exists()
            } else {
                e.into()
            }
        })?;
    audit(
        state,
        "oauth_register",
        "success",
        Some(created.id.to_string()),
        Some(provider.to_owned()),
    )
    .await;
    admit(state, created).await
}

/// Refuses accounts that may not sign in now, as a password sign-in would.
async fn admit(state: &AppState, user: User) -> Result<User, ApiError> {
    if user.disabled {
        return Err(invalid_credentials());
    }
    crate::auth::tokens::refuse_unverified(state, &user, "oauth_login").await?;
    Ok(user)
}
