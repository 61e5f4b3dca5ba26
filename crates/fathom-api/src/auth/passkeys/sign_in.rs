//! `POST /passkeys/login/options` and `POST /passkeys/login`: signing in with a discoverable
//! passkey. Nobody types an email: the authenticator offers the passkeys it holds for this
//! relying party, and its answer names the credential and the account (the user handle), which
//! must agree with what was registered. The counter the authenticator reports must advance
//! (webauthn-rs checks it against the stored credential; the store's guarded update settles two
//! nodes racing with one value), so a cloned authenticator is refused. Ends like every sign-in
//! (`tokens::start_session`); no second factor is asked, a passkey being two factors itself.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fathom_store::CeremonyKind;
use serde_json::{Map, json};
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

use super::register::decode;
use super::{
    ceremony_id, counter_regressed, credential_key, field, refused, relying_party, save_ceremony,
    take_ceremony, unknown_passkey,
};
use crate::AppState;
use crate::auth::tokens::{audit, invalid_credentials, refuse_unverified, start_session};
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;
use crate::metrics::SignIn;

pub async fn options(State(state): State<AppState>) -> Result<Response, ApiError> {
    let settings = relying_party(&state)?;
    let (challenge, ceremony) = settings
        .relying_party
        .start_discoverable_authentication()
        .map_err(|e| ApiError::internal(format!("starting a passkey sign-in: {e}")))?;
    let id = save_ceremony(&state, CeremonyKind::SignIn, None, &ceremony).await?;
    let data = json!({
        "ceremony_id": id.hyphenated().to_string(),
        "expires_in": settings.ceremony_ttl.as_secs(),
        "options": challenge,
    });
    Ok(envelope(data, Map::new()).into_response())
}

/// Refuses a passkey sign-in: counted and audited with `reason`, answered with `error`.
async fn refuse(
    state: &AppState,
    actor: Option<uuid::Uuid>,
    reason: &str,
    error: ApiError,
) -> ApiError {
    state.auth.sign_ins.record(SignIn::Failure);
    audit(
        state,
        "passkey_login",
        "failure",
        actor.map(|id| id.to_string()),
        Some(reason.into()),
    )
    .await;
    error
}

pub async fn finish(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let settings = relying_party(&state)?;
    let id = ceremony_id(&body)?;
    // Taken before anything else is read: whatever the outcome, this challenge is spent.
    let (_, ceremony): (_, DiscoverableAuthentication) =
        take_ceremony(&state, id, CeremonyKind::SignIn).await?;
    let credential: PublicKeyCredential =
        field(&body, "credential", "the authenticator's assertion (JSON)")?;
    let rp = &settings.relying_party;
    let Ok((handle, _)) = rp.identify_discoverable_authentication(&credential) else {
        let error = refused(&webauthn_rs::prelude::WebauthnError::InvalidUserUniqueId);
        return Err(refuse(&state, None, "no user handle", error).await);
    };
    let Some(stored) = state
        .store
        .passkey_by_credential(&credential_key(credential.get_credential_id()))
        .await?
        .filter(|p| p.user_id == handle)
    else {
        return Err(refuse(&state, None, "unknown passkey", unknown_passkey()).await);
    };
    let mut passkey = decode(&stored.credential)?;
    let result = match rp.finish_discoverable_authentication_v2(&credential, ceremony, &passkey) {
        Ok(result) => result,
        Err(e) => {
            let reason = format!("passkey {}: {e}", stored.id);
            return Err(refuse(&state, Some(stored.user_id), &reason, refused(&e)).await);
        }
    };
    passkey.update_credential(&result);
    let updated = serde_json::to_string(&passkey)
        .map_err(|e| ApiError::internal(format!("serialising a passkey: {e}")))?;
    let advanced = state
        .store
        .record_passkey_use(stored.id, updated, i64::from(result.counter()))
        .await?;
    if !advanced {
        let reason = format!("passkey {}: counter did not advance", stored.id);
        return Err(refuse(&state, Some(stored.user_id), &reason, counter_regressed()).await);
    }
    let user = state.store.user_by_id(stored.user_id).await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        let error = invalid_credentials();
        return Err(refuse(&state, Some(stored.user_id), "disabled", error).await);
    };
    refuse_unverified(&state, &user, "passkey_login").await?;
    state.auth.sign_ins.record(SignIn::Success);
    let (_, data) = start_session(&state, &parts.headers, &user).await?;
    audit(
        &state,
        "passkey_login",
        "success",
        Some(user.id.to_string()),
        Some(format!("passkey {}", stored.id)),
    )
    .await;
    Ok(envelope(data, Map::new()).into_response())
}
