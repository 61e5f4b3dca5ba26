//! The second step of signing in to an account with TOTP on: the right password answers a
//! short-lived, single-use challenge instead of tokens ([`challenge_if_enabled`]), and
//! `POST /api/v1/auth/login/second-factor` trades the challenge and a code (TOTP or recovery)
//! for the token pair. A challenge takes `challenge_attempts` codes at most, each attempt taken
//! atomically before the code is checked, so concurrent guesses cannot exceed it; wrong codes
//! also count per account across challenges (`verify_factor`).

use axum::extract::State;
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use fathom_auth::{generate_token, hash_token};
use fathom_core::ErrorCode;
use fathom_store::User;
use serde_json::{Map, json};

use super::super::tokens::{audit, signed_in, text_field, timestamp_after};
use super::{code_field, verify_factor};
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

/// A 202 with a challenge when `user` has TOTP on (the password step of the sign-in is done);
/// `None` when the sign-in ends here.
pub(crate) async fn challenge_if_enabled(
    state: &AppState,
    user: &User,
) -> Result<Option<Response>, ApiError> {
    if !state.store.totp_enabled(user.id).await? {
        return Ok(None);
    }
    let settings = &state.auth.settings.totp;
    let challenge = generate_token();
    state
        .store
        .create_totp_challenge(
            hash_token(&challenge),
            user.id,
            timestamp_after(settings.challenge_ttl),
        )
        .await?;
    audit(
        state,
        "login",
        "challenge",
        Some(user.id.to_string()),
        Some("second factor required".into()),
    )
    .await;
    let data = json!({
        "second_factor_required": true,
        "challenge": challenge,
        "expires_in": settings.challenge_ttl.as_secs(),
        "methods": ["totp", "recovery_code"],
    });
    Ok(Some(
        (StatusCode::ACCEPTED, envelope(data, Map::new())).into_response(),
    ))
}

fn challenge_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::ChallengeInvalid,
        "The sign-in challenge is unknown, expired, already used, or out of attempts.",
        "Sign in again with the password at /api/v1/auth/login for a new challenge.",
    )
}

/// `POST /login/second-factor` `{challenge, code}`.
pub(super) async fn second_factor(
    State(state): State<AppState>,
    parts: Parts,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let challenge = text_field(&body, "challenge")?;
    let code = code_field(&body)?;
    let settings = &state.auth.settings.totp;
    let hash = hash_token(&challenge);
    let Some(user_id) = state
        .store
        .take_totp_challenge_attempt(hash.clone(), i64::from(settings.challenge_attempts))
        .await?
    else {
        audit(
            &state,
            "second_factor",
            "failure",
            None,
            Some("challenge invalid".into()),
        )
        .await;
        return Err(challenge_invalid());
    };
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(challenge_invalid)?;
    let factor = state
        .store
        .totp_factor(user.id)
        .await?
        .filter(|f| f.enabled())
        .ok_or_else(challenge_invalid)?;
    let proof = verify_factor(&state, &user, &factor, &code, "second_factor").await?;
    // The challenge is spent only now, so wrong codes do not burn it; of two concurrent right
    // answers, one signs in.
    if !state.store.consume_totp_challenge(hash).await? {
        return Err(challenge_invalid());
    }
    audit(
        &state,
        "second_factor",
        "success",
        Some(user.id.to_string()),
        Some(proof.as_str().into()),
    )
    .await;
    signed_in(&state, &parts.headers, &user).await
}
