//! `POST /passkeys/registration/options` and `POST /passkeys`: a signed-in account adds a
//! passkey. The options ask for a discoverable credential with user verification (what lets
//! the account sign in later without typing its email), exclude the account's passkeys already
//! registered, and name the account by its id as the user handle.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::{CeremonyKind, NewPasskey, StoreErrorKind};
use serde_json::{Map, Value, json};
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential};

use super::{
    already_registered, ceremony_id, ceremony_invalid, credential_key, field, refused,
    relying_party, save_ceremony, take_ceremony,
};
use crate::AppState;
use crate::auth::caller::Caller;
use crate::auth::tokens::audit;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

/// The longest passkey name, in characters.
const MAX_NAME_CHARS: usize = 100;
/// The most passkeys one account may register: far more than anyone's devices, few enough that
/// an account cannot grow the table (and every exclusion list) without bound.
pub const MAX_PASSKEYS: usize = 20;

/// 409 `passkey_limit_reached` when the account already has [`MAX_PASSKEYS`]. Checked when a
/// ceremony starts and again when it finishes (two ceremonies finishing at once may each pass
/// the second check: the cap is for bounding storage, not exact).
fn below_limit(count: usize) -> Result<(), ApiError> {
    if count < MAX_PASSKEYS {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PasskeyLimitReached,
        format!(
            "This account already has {MAX_PASSKEYS} passkeys, the most one account may register."
        ),
        "Remove a passkey you no longer use (DELETE /api/v1/auth/passkeys/{id}), then add this one.",
    ))
}

/// Decodes the passkeys stored for an account (to exclude or to verify against).
pub(super) fn decode(stored: &str) -> Result<Passkey, ApiError> {
    serde_json::from_str(stored)
        .map_err(|e| ApiError::internal(format!("decoding a stored passkey: {e}")))
}

pub async fn options(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let settings = relying_party(&state)?;
    let user = state
        .store
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(|| ApiError::internal("a live session's account is missing"))?;
    let registered = state.store.passkeys(user.id).await?;
    below_limit(registered.len())?;
    let exclude = registered
        .iter()
        .map(|p| decode(&p.credential).map(|k| k.cred_id().clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let (challenge, ceremony) = settings
        .relying_party
        .start_passkey_registration(user.id, &user.email, &user.email, Some(exclude))
        .map_err(|e| ApiError::internal(format!("starting a passkey registration: {e}")))?;
    let mut options = serde_json::to_value(&challenge)
        .map_err(|e| ApiError::internal(format!("serialising passkey options: {e}")))?;
    // webauthn-rs leaves residency to the authenticator; sign-in without an email needs the
    // credential to be discoverable, so the options ask for it.
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), json!("required"));
        selection.insert("requireResidentKey".into(), json!(true));
    }
    let id = save_ceremony(&state, CeremonyKind::Registration, Some(user.id), &ceremony).await?;
    let data = json!({
        "ceremony_id": id.hyphenated().to_string(),
        "expires_in": settings.ceremony_ttl.as_secs(),
        "options": options,
    });
    Ok(envelope(data, Map::new()).into_response())
}

/// The name a body gives the new passkey: trimmed, 1 to 100 characters; "Passkey" when absent.
fn passkey_name(body: &Map<String, Value>) -> Result<String, ApiError> {
    let name = match body.get("name") {
        None | Some(Value::Null) => return Ok("Passkey".into()),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => String::new(),
    };
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        let message = format!("`name` must be 1 to {MAX_NAME_CHARS} characters of text.");
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            message.clone(),
            "Name the passkey after its device, such as \"Work laptop\".",
        )
        .with_field("name", "invalid", message));
    }
    Ok(name)
}

pub async fn finish(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let settings = relying_party(&state)?;
    let id = ceremony_id(&body)?;
    let name = passkey_name(&body)?;
    // Taken before the answer is read: whatever the outcome, this challenge is spent.
    let (owner, ceremony): (_, PasskeyRegistration) =
        take_ceremony(&state, id, CeremonyKind::Registration).await?;
    let credential: RegisterPublicKeyCredential = field(
        &body,
        "credential",
        "the authenticator's registration response (JSON)",
    )?;
    // A registration started by another account is no ceremony of this caller's.
    if owner != Some(caller.user_id) {
        return Err(ceremony_invalid());
    }
    let passkey = settings
        .relying_party
        .finish_passkey_registration(&credential, &ceremony)
        .map_err(|e| refused(&e))?;
    let count = state.store.passkey_count(caller.user_id).await?;
    below_limit(usize::try_from(count).unwrap_or(usize::MAX))?;
    let stored = serde_json::to_string(&passkey)
        .map_err(|e| ApiError::internal(format!("serialising a passkey: {e}")))?;
    let added = state
        .store
        .add_passkey(NewPasskey {
            user_id: caller.user_id,
            credential_id: credential_key(passkey.cred_id()),
            name,
            credential: stored,
            sign_count: 0,
        })
        .await;
    let added = match added {
        Err(e) if matches!(e.kind, StoreErrorKind::UniqueViolation { .. }) => {
            return Err(already_registered());
        }
        other => other?,
    };
    audit(
        &state,
        "passkey_registered",
        "success",
        Some(caller.user_id.to_string()),
        Some(format!("passkey {}", added.id)),
    )
    .await;
    let data = super::manage::passkey_json(&added);
    Ok((StatusCode::CREATED, envelope(data, Map::new())).into_response())
}
