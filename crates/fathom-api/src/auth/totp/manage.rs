//! `GET`, `POST` and `DELETE /api/v1/auth/totp`, `POST /totp/confirm` and
//! `POST /totp/recovery-codes`: the signed-in user's TOTP factor. Enrolment answers a pending
//! secret and its `otpauth://` URI; the factor is on only once a code from it confirms it, and
//! the recovery codes are shown then, once. Replacing the factor, disabling it and renewing the
//! recovery codes need a fresh factor (a current code or a recovery code) when it is on.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::User;
use serde_json::{Map, json};

use super::super::caller::Caller;
use super::super::tokens::{audit, timestamp_after};
use super::{bad_code, code_field, codes, not_enabled, optional_code, verify_factor};
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

async fn caller_user(state: &AppState, caller: &Caller) -> Result<User, ApiError> {
    state
        .store
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "The account of this access token no longer exists.",
                "Sign in again.",
            )
        })
}

fn not_pending() -> ApiError {
    ApiError::new(
        ErrorCode::TotpNotPending,
        "No TOTP enrolment awaits confirmation: none was started, or it expired.",
        "Start one with POST /api/v1/auth/totp, then confirm it with a code from the authenticator app.",
    )
}

/// `GET /totp`: whether the factor is on, an enrolment is pending, and how many recovery codes
/// are left.
pub(super) async fn status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let factor = state.store.totp_factor(caller.user_id).await?;
    let data = match factor {
        Some(f) => json!({
            "enabled": f.enabled(),
            "enabled_at": f.enabled_at,
            "pending": f.pending.is_some(),
            "recovery_codes_left": if f.enabled() { f.recovery_left } else { 0 },
        }),
        None => json!({
            "enabled": false,
            "enabled_at": null,
            "pending": false,
            "recovery_codes_left": 0,
        }),
    };
    Ok(envelope(data, Map::new()).into_response())
}

/// `POST /totp`: a new pending secret. With the factor on, the body's `code` must prove it.
pub(super) async fn enrol(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let user = caller_user(&state, &caller).await?;
    let settings = &state.auth.settings.totp;
    let code = optional_code(&body)?;
    if let Some(factor) = state
        .store
        .totp_factor(user.id)
        .await?
        .filter(|f| f.enabled())
    {
        let code = code.ok_or_else(bad_code)?;
        verify_factor(&state, &user, &factor, &code, "totp_enrol").await?;
    }
    let secret = codes::new_secret()?;
    let totp = codes::totp(&secret, &settings.issuer, &user.email)?;
    let uri = codes::uri(&totp)?;
    let expires_at = timestamp_after(settings.enrolment_ttl);
    state
        .store
        .begin_totp(user.id, &secret, expires_at.clone())
        .await?;
    audit(
        &state,
        "totp_enrol",
        "started",
        Some(user.id.to_string()),
        None,
    )
    .await;
    let data = json!({
        "otpauth_uri": uri,
        "secret": secret.as_str(),
        "issuer": settings.issuer,
        "account": totp.account_name(),
        "algorithm": "SHA1",
        "digits": codes::DIGITS,
        "period": 30,
        "expires_at": expires_at,
    });
    Ok((StatusCode::CREATED, envelope(data, Map::new())).into_response())
}

/// `POST /totp/confirm`: a code from the pending secret turns it on and answers the recovery
/// codes (the only time they are shown).
pub(super) async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let code = code_field(&body)?;
    let user = caller_user(&state, &caller).await?;
    let settings = &state.auth.settings.totp;
    let factor = state.store.totp_factor(user.id).await?;
    let (Some(pending), Some(sealed)) = (
        factor.as_ref().and_then(|f| f.pending.clone()),
        factor.as_ref().and_then(|f| f.pending_sealed.clone()),
    ) else {
        return Err(not_pending());
    };
    let totp = codes::totp(&pending, &settings.issuer, &user.email)?;
    let step = codes::is_totp_code(&code)
        .then(|| codes::matching_step(&totp, &code))
        .flatten();
    let Some(step) = step else {
        audit(
            &state,
            "totp_enrol",
            "failure",
            Some(user.id.to_string()),
            Some("wrong confirmation code".into()),
        )
        .await;
        return Err(ApiError::new(
            ErrorCode::SecondFactorInvalid,
            "The code does not match the secret being enrolled.",
            "Enter the current 6-digit code the authenticator app shows for this account (check the device's clock).",
        ));
    };
    let (recovery, hashes) = codes::recovery_codes(settings.recovery_codes)?;
    if !state
        .store
        .confirm_totp(user.id, sealed, step, hashes)
        .await?
    {
        return Err(not_pending());
    }
    audit(
        &state,
        "totp_enrol",
        "success",
        Some(user.id.to_string()),
        None,
    )
    .await;
    let data = json!({ "enabled": true, "recovery_codes": recovery });
    Ok(envelope(data, Map::new()).into_response())
}

/// The caller's account, once the body's `code` proved its enabled factor (a fresh factor, for
/// the changes that need one); `action` names the attempt in the audit log.
async fn proven(
    state: &AppState,
    caller: &Caller,
    body: &serde_json::Map<String, serde_json::Value>,
    action: &str,
) -> Result<User, ApiError> {
    let code = code_field(body)?;
    let user = caller_user(state, caller).await?;
    let factor = state
        .store
        .totp_factor(user.id)
        .await?
        .filter(|f| f.enabled())
        .ok_or_else(not_enabled)?;
    verify_factor(state, &user, &factor, &code, action).await?;
    Ok(user)
}

/// `DELETE /totp`: turns the factor off, proven by the body's `code`.
pub(super) async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let user = proven(&state, &caller, &body, "totp_disable").await?;
    state.store.disable_totp(user.id).await?;
    audit(
        &state,
        "totp_disable",
        "success",
        Some(user.id.to_string()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /totp/recovery-codes`: new recovery codes (the old ones stop working), proven by the
/// body's `code`.
pub(super) async fn renew_recovery_codes(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let user = proven(&state, &caller, &body, "totp_recovery_codes").await?;
    let (recovery, hashes) = codes::recovery_codes(state.auth.settings.totp.recovery_codes)?;
    state.store.replace_recovery_codes(user.id, hashes).await?;
    audit(
        &state,
        "totp_recovery_codes",
        "success",
        Some(user.id.to_string()),
        None,
    )
    .await;
    let data = json!({ "enabled": true, "recovery_codes": recovery });
    Ok(envelope(data, Map::new()).into_response())
}
