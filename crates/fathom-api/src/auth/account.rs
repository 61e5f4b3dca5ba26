//! The account: `register`, `me`, `password` (change), `verify` (email) and `password-reset`
//! (request and confirm). Registration and reset requests answer the same for known and unknown
//! emails, after the same work: what differs (tokens, mail) happens after the answer
//! (`notify`). Tokens travel only by mail and are stored only as hashes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_auth::{AuthError, Lane, hash_token};
use fathom_core::ErrorCode;
use fathom_store::{NewUser, StoreErrorKind};
use serde_json::{Map, json};

use super::caller::Caller;
use super::notify::{TokenMail, after_answer, mail_already_registered, mail_token};
use super::throttle::Gate;
use super::tokens::{audit, invalid_credentials, text_field, user_json};
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

/// The one answer to every registration and reset request.
pub(super) fn accepted(message: &str) -> Response {
    accepted_with(json!({ "status": "accepted", "message": message }))
}

fn accepted_with(data: serde_json::Value) -> Response {
    let mut response = envelope(data, Map::new()).into_response();
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

pub(crate) fn weak_password(field: &str, error: AuthError) -> ApiError {
    match error {
        AuthError::WeakPassword(violation) => ApiError::new(
            ErrorCode::ValidationFailed,
            violation.to_string(),
            "Choose a longer, less common password (a passphrase of several words works well).",
        )
        .with_field(field, violation.code(), violation.to_string()),
        other => ApiError::internal(format!("hashing a password: {other}")),
    }
}

pub(crate) fn check_policy(
    state: &AppState,
    field: &str,
    password: &str,
    email: Option<&str>,
) -> Result<(), ApiError> {
    state
        .auth
        .policy
        .check(password, email)
        .map_err(|v| weak_password(field, AuthError::WeakPassword(v)))
}

pub(crate) fn plausible_email(email: &str) -> bool {
    let field = fathom_schema::Field {
        name: "email".into(),
        kind: fathom_schema::FieldType::Email,
        required: true,
        unique: false,
        default: None,
        constraints: fathom_schema::Constraints::default(),
        hidden: false,
        encrypted: false,
        blind_index: false,
    };
    fathom_schema::record::validate_value(&field, &serde_json::Value::String(email.to_owned()))
        .is_ok()
}

const REGISTERED: &str = "If the address can be registered, a verification email is on its way.";
const RESET_SENT: &str = "If an account uses this address, a reset email is on its way.";

pub async fn register(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    if !state.auth.settings.allow_registration {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Registration is closed on this server.",
            "Ask an administrator for an account.",
        ));
    }
    let email = text_field(&body, "email")?.to_lowercase();
    let password = text_field(&body, "password")?;
    if !plausible_email(&email) {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "The email address is not valid.",
            "Use an address such as ada@example.com.",
        )
        .with_field("email", "invalid_format", "The email address is not valid."));
    }
    check_policy(&state, "password", &password, Some(&email))?;
    let auth = &state.auth;
    let slot = auth
        .hash_shares
        .take(crate::client_ip::current(), &auth.hasher, false)?;
    let hash = auth
        .hasher
        .hash(&password)
        .await
        .map_err(|e| weak_password("password", e))?;
    drop(slot);
    let user = NewUser {
        email: email.clone(),
        password_hash: hash,
        roles: vec!["user".into()],
        tenant: None,
        verified: false,
    };
    // A new and a taken address both cost one hash and one INSERT here; the mail that tells
    // them apart is written after the answer.
    let created = match state.store.create_user(user).await {
        Ok(user) => Some(user.id),
        Err(e) if matches!(e.kind, StoreErrorKind::UniqueViolation { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    // The answer carries the new account's id; for a taken address, a fresh UUIDv7 that names
    // no account, made the same way at the same moment, so the two answers cannot be told
    // apart by shape or by the id's form.
    let answered_id = created.unwrap_or_else(uuid::Uuid::now_v7);
    let state = state.clone();
    after_answer("registration mail", async move {
        match created {
            // Audited before the mail goes, so whoever sees the mail finds the entry.
            Some(id) => {
                audit(&state, "register", "success", Some(id.to_string()), None).await;
                mail_token(&state, id, email, TokenMail::Verify).await?;
            }
            None => {
                let detail = Some("address already registered".into());
                audit(&state, "register", "failure", None, detail).await;
                // Already registered: tell the owner, not the requester.
                mail_already_registered(&state, email).await;
            }
        }
        Ok(())
    });
    Ok(accepted_with(json!({
        "status": "accepted",
        "message": REGISTERED,
        "id": answered_id.hyphenated().to_string(),
    })))
}

/// The answer to a valid token whose account has since been deleted.
pub(super) fn account_gone() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        "The account no longer exists.",
        "Sign in again.",
    )
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let user = state
        .store
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(account_gone)?;
    Ok(envelope(user_json(&user), Map::new()).into_response())
}

pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let current = text_field(&body, "current_password")?;
    let new = text_field(&body, "new_password")?;
    let user = state
        .store
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(invalid_credentials)?;
    check_current_password(&state, &user, &current, "password_change").await?;
    check_policy(&state, "new_password", &new, Some(&user.email))?;
    let hash = state
        .auth
        .hasher
        .hash(&new)
        .await
        .map_err(|e| weak_password("new_password", e))?;
    let revoked = state
        .store
        .set_password(user.id, hash, Some(caller.session_id))
        .await;
    // Every other session just ended; this node stops trusting them now.
    state.auth.sessions.forget_user(user.id);
    let revoked = revoked?;
    audit(
        &state,
        "password_change",
        "success",
        Some(user.id.to_string()),
        Some(format!("{revoked} other sessions revoked")),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Refuses a wrong current password of `user` (401 `invalid_credentials`, audited as a failure
/// of `action`). A wrong current password is a guess like a failed login, held by the same
/// defence: the throttle, the hashing shares and lanes.
pub(super) async fn check_current_password(
    state: &AppState,
    user: &fathom_store::User,
    current: &str,
    action: &str,
) -> Result<(), ApiError> {
    let auth = &state.auth;
    let ip = crate::client_ip::current();
    let known = match auth.throttle.gate(&user.email, ip).await {
        Gate::Refused => return Err(invalid_credentials()),
        Gate::Delay(wait) => {
            tokio::time::sleep(wait).await;
            false
        }
        Gate::Open { known } => known,
    };
    if !fathom_store::password_usable(&user.password_hash) {
        // An account made by an OAuth sign-in has no current password to check; it gets one
        // through /password-reset (which proves the mailbox).
        return Err(invalid_credentials());
    }
    let _slot = auth.hash_shares.take(ip, &auth.hasher, known)?;
    let lane = if known { Lane::Trusted } else { Lane::General };
    let verification = auth
        .hasher
        .verify_in(lane, current, &user.password_hash)
        .await
        .map_err(|e| ApiError::internal(format!("verifying a password: {e}")))?;
    if !verification.matches {
        auth.throttle.failed(&user.email, ip, known).await;
        audit(state, action, "failure", Some(user.id.to_string()), None).await;
        return Err(invalid_credentials());
    }
    Ok(())
}

pub(super) fn token_rejected() -> ApiError {
    ApiError::new(
        ErrorCode::ValidationFailed,
        "The token is not valid: it is unknown, used or expired.",
        "Request a new one.",
    )
    .with_field("token", "invalid_token", "The token is not valid.")
}

pub async fn verify_email(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let token = text_field(&body, "token")?;
    let redeemed = state
        .store
        .redeem_one_time_token("verify_email", hash_token(&token))
        .await?;
    let Some(user_id) = redeemed else {
        // Not a verification token: perhaps the confirmation of a new address.
        return super::email_change::confirm(&state, &token).await;
    };
    state.store.set_verified(user_id).await?;
    // Requests act on the account's verified flag: this node reads it again at once.
    state.auth.sessions.forget_user(user_id);
    audit(
        &state,
        "email_verified",
        "success",
        Some(user_id.to_string()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn request_reset(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let email = text_field(&body, "email")?.to_lowercase();
    // Known and unknown addresses are answered before anything about them is looked up.
    let state = state.clone();
    after_answer("password-reset mail", async move {
        if let Some(user) = state.store.user_by_email(&email).await? {
            audit(
                &state,
                "password_reset_requested",
                "success",
                Some(user.id.to_string()),
                None,
            )
            .await;
            mail_token(&state, user.id, email, TokenMail::Reset).await?;
        }
        Ok(())
    });
    Ok(accepted(RESET_SENT))
}

pub async fn confirm_reset(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let token = text_field(&body, "token")?;
    let new = text_field(&body, "new_password")?;
    // Check the password (against the account's email too) before spending the token, so a
    // weak password does not burn it.
    let owner = state
        .store
        .one_time_token_user("reset_password", hash_token(&token))
        .await?
        .ok_or_else(token_rejected)?;
    let email = state.store.user_by_id(owner).await?.map(|u| u.email);
    check_policy(&state, "new_password", &new, email.as_deref())?;
    // The hashing share is taken before the token is spent, so a 429 does not burn it.
    let auth = &state.auth;
    let _slot = auth
        .hash_shares
        .take(crate::client_ip::current(), &auth.hasher, false)?;
    let user_id = state
        .store
        .redeem_one_time_token("reset_password", hash_token(&token))
        .await?
        .ok_or_else(token_rejected)?;
    let hash = auth
        .hasher
        .hash(&new)
        .await
        .map_err(|e| weak_password("new_password", e))?;
    // A reset ends every session and lifts a lockout: the recovery path an attacker cannot block.
    let reset = state.store.set_password(user_id, hash, None).await;
    state.auth.sessions.forget_user(user_id);
    if let Some(email) = &email {
        auth.throttle.forget_account(email).await;
    }
    reset?;
    audit(
        &state,
        "password_reset",
        "success",
        Some(user_id.to_string()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
