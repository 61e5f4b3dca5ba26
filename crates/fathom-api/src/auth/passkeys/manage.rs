//! `GET /passkeys` (the caller's passkeys: name, created, last used) and
//! `DELETE /passkeys/{id}` (remove one). Removing the account's last way to sign in is refused:
//! with no usable password, its last passkey stays.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::{PasskeyRemoval, StoredPasskey};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::relying_party;
use crate::AppState;
use crate::auth::caller::Caller;
use crate::auth::tokens::audit;
use crate::envelope::envelope;
use crate::error::ApiError;

/// A passkey as the API shows it: never the credential itself.
pub(super) fn passkey_json(passkey: &StoredPasskey) -> Value {
    json!({
        "id": passkey.id.hyphenated().to_string(),
        "name": passkey.name,
        "created_at": passkey.created_at,
        "last_used_at": passkey.last_used_at,
    })
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    relying_party(&state)?;
    let passkeys = state.store.passkeys(caller.user_id).await?;
    let data: Vec<Value> = passkeys.iter().map(passkey_json).collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::PasskeyNotFound,
        "Your account has no passkey with this id.",
        "List your passkeys at GET /api/v1/auth/passkeys.",
    )
}

pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    relying_party(&state)?;
    let Ok(id) = Uuid::parse_str(&id) else {
        return Err(not_found());
    };
    let user = state
        .store
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(|| ApiError::internal("a live session's account is missing"))?;
    // Without a usable password, a passkey is the only way in: the last one must stay.
    let keep_last = !fathom_store::password_usable(&user.password_hash);
    match state.store.remove_passkey(user.id, id, keep_last).await? {
        PasskeyRemoval::Removed => {
            audit(
                &state,
                "passkey_removed",
                "success",
                Some(user.id.to_string()),
                Some(format!("passkey {id}")),
            )
            .await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        PasskeyRemoval::NotFound => Err(not_found()),
        PasskeyRemoval::LastSignInMethod => Err(ApiError::new(
            ErrorCode::LastSignInMethod,
            "This is the account's last way to sign in: it has no usable password and no other passkey.",
            "Set a password or register another passkey first, then remove this one.",
        )),
    }
}
