//! `POST /login`, `POST /refresh`, `POST /logout`: sessions and their tokens.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fathom_auth::{Lane, TokenSubject, generate_token, hash_token};
use fathom_core::ErrorCode;
pub(crate) use fathom_schema::value::timestamp_after;
use fathom_store::{AuditEntry, RefreshOutcome, Session, User};
use serde_json::{Map, Value, json};

use super::caller::Caller;
use super::keys::unix_now;
use super::throttle::Gate;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;
use crate::metrics::SignIn;

/// The one answer to every failed login, whatever failed.
pub(super) fn invalid_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "The email or password is incorrect, or the account cannot sign in right now.",
        "Check both and try again; if you forgot the password, use /api/v1/auth/password-reset.",
    )
}

/// A required string field of an auth body.
pub(super) fn text_field(body: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::new(
            ErrorCode::ValidationFailed,
            format!("The field `{name}` is required."),
            format!("Send `{name}` as a non-empty string."),
        )
        .with_field(name, "required", format!("The field `{name}` is required."))),
    }
}

pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.hyphenated().to_string(),
        "email": user.email,
        "roles": user.roles,
        "tenant": user.tenant,
        "verified": user.verified,
        "created_at": user.created_at,
        "profile": user.profile,
    })
}

pub(super) fn client_details(
    headers: &HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> (Option<String>, Option<String>) {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect());
    (agent, ip.map(|ip| ip.to_string()))
}

/// Appends a security event to the audit log, with the request id and the client address.
pub(super) async fn audit(
    state: &AppState,
    action: &str,
    outcome: &str,
    actor: Option<String>,
    detail: Option<String>,
) {
    let entry = AuditEntry {
        action: action.into(),
        outcome: outcome.into(),
        actor,
        request_id: Some(crate::request_id::current()),
        ip: crate::client_ip::current().map(|ip| ip.to_string()),
        detail,
        ..AuditEntry::default()
    };
    if let Err(e) = state.store.audit(entry).await {
        tracing::error!(cause = %e.detail, action, "writing the audit log failed");
    }
}

/// Issues an access token for `user` in `session`, with the refresh token that continues it.
fn token_pair(
    state: &AppState,
    ring: &fathom_auth::KeyRing,
    user: &User,
    session: &Session,
    refresh: String,
) -> Result<Value, ApiError> {
    let subject = TokenSubject {
        sub: user.id.hyphenated().to_string(),
        roles: user.roles.clone(),
        tenant: user.tenant.clone(),
        verified: user.verified,
        sid: session.id.hyphenated().to_string(),
    };
    let settings = &state.auth.settings;
    let access = ring
        .issue(&settings.tokens, &subject, unix_now())
        .map_err(|e| ApiError::internal(format!("issuing an access token: {e}")))?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": settings.tokens.access_ttl_secs,
        "refresh_token": refresh,
        "session_id": session.id.hyphenated().to_string(),
        "session_expires_at": session.expires_at,
        "user": user_json(user),
    }))
}

/// The one ending of every way to sign in: starts a session for `user` and answers the session
/// with Fathom's token pair (the body of a successful sign-in).
pub(crate) async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
) -> Result<(Session, Value), ApiError> {
    let refresh = generate_token();
    let (agent, ip) = client_details(headers, crate::client_ip::current());
    let session = state
        .store
        .create_session(
            user.id,
            hash_token(&refresh),
            timestamp_after(state.auth.settings.session_ttl),
            agent,
            ip,
        )
        .await?;
    let ring = state.auth.keys.ring(&state.store, false).await;
    let data = token_pair(state, &ring, user, &session, refresh)?;
    Ok((session, data))
}

/// Refuses a login: audited with `reason`, answered like every other failed login.
async fn refused(state: &AppState, actor: Option<uuid::Uuid>, reason: &str) -> ApiError {
    audit(
        state,
        "login",
        "failure",
        actor.map(|id| id.to_string()),
        Some(reason.into()),
    )
    .await;
    invalid_credentials()
}

pub async fn login(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let email = text_field(&body, "email")?.to_lowercase();
    let password = text_field(&body, "password")?;
    let auth = &state.auth;
    let ip = crate::client_ip::current();
    // The guessing defence is keyed by the email as typed: it treats unknown accounts alike.
    let known = match auth.throttle.gate(&email, ip).await {
        Gate::Refused => {
            auth.sign_ins.record(SignIn::LockedOut);
            return Err(refused(&state, None, "address refused for this account").await);
        }
        Gate::Delay(wait) => {
            auth.sign_ins.throttled();
            tokio::time::sleep(wait).await;
            false
        }
        Gate::Open { known } => known,
    };
    let _slot = auth.hash_shares.take(ip, &auth.hasher, known)?;
    let Some(user) = state.store.user_by_email(&email).await? else {
        // Unknown account: spend the same work as a known one, answer the same.
        auth.hasher.verify_dummy(&password).await;
        auth.throttle.failed(&email, ip, false).await;
        auth.sign_ins.record(SignIn::Failure);
        return Err(refused(&state, None, "unknown account").await);
    };
    if !fathom_store::password_usable(&user.password_hash) {
        // An account made by an OAuth sign-in has no password: it costs and answers as a miss.
        auth.hasher.verify_dummy(&password).await;
        auth.sign_ins.record(SignIn::Failure);
        return Err(refused(&state, Some(user.id), "no password").await);
    }
    let lane = if known { Lane::Trusted } else { Lane::General };
    let verification = auth
        .hasher
        .verify_in(lane, &password, &user.password_hash)
        .await
        .map_err(|e| ApiError::internal(format!("verifying a password: {e}")))?;
    if !verification.matches {
        auth.sign_ins.record(SignIn::Failure);
        if auth.throttle.failed(&email, ip, known).await {
            auth.sign_ins.locked();
            let detail = format!(
                "{} failed logins from one address; that address is refused for {} min",
                auth.settings.lockout_threshold,
                auth.settings.lockout_duration.as_secs() / 60
            );
            audit(
                &state,
                "lockout",
                "denied",
                Some(user.id.to_string()),
                Some(detail),
            )
            .await;
        }
        return Err(refused(&state, Some(user.id), "wrong password").await);
    }
    if user.disabled {
        auth.sign_ins.record(SignIn::Failure);
        return Err(refused(&state, Some(user.id), "disabled").await);
    }
    // Only the holder of the right password learns this, so it reveals nothing to guessers.
    refuse_unverified(&state, &user, "login").await?;
    let rehashed = if verification.needs_rehash {
        auth.hasher.hash(&password).await.ok()
    } else {
        None
    };
    state.store.record_login_success(user.id, rehashed).await?;
    auth.throttle.succeeded(&email, ip).await;
    auth.sign_ins.record(SignIn::Success);
    // The password is right; an account with a second factor gets a challenge, not tokens.
    if let Some(challenge) = super::totp::challenge_if_enabled(&state, &user).await? {
        return Ok(challenge);
    }
    signed_in(&state, &parts.headers, &user).await
}

/// Refuses an unverified account when the server signs in only verified ones (`action` names the
/// sign-in in the audit log); called once the account's first factor has been proven.
pub(crate) async fn refuse_unverified(
    state: &AppState,
    user: &User,
    action: &str,
) -> Result<(), ApiError> {
    if !state.auth.settings.require_verified_email || user.verified {
        return Ok(());
    }
    state.auth.sign_ins.record(SignIn::Unverified);
    audit(
        state,
        action,
        "denied",
        Some(user.id.to_string()),
        Some("email not verified".into()),
    )
    .await;
    Err(ApiError::new(
        ErrorCode::EmailNotVerified,
        "This account's email address is not verified yet, and this server signs in only verified accounts.",
        "Open the link in the verification mail sent at registration, then sign in again.",
    ))
}

/// The end of a successful password sign-in (after its second factor, if the account has one):
/// a new session and Fathom's token pair, audited as a successful login.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
) -> Result<Response, ApiError> {
    let (_, data) = start_session(state, headers, user).await?;
    audit(state, "login", "success", Some(user.id.to_string()), None).await;
    Ok(envelope(data, Map::new()).into_response())
}

pub async fn refresh(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let token = text_field(&body, "refresh_token")?;
    let next = generate_token();
    let invalid = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "The refresh token is not valid.",
            "Sign in again at /api/v1/auth/login.",
        )
    };
    match state
        .store
        .rotate_refresh(hash_token(&token), hash_token(&next))
        .await?
    {
        RefreshOutcome::Rotated { session, user } => {
            let ring = state.auth.keys.ring(&state.store, false).await;
            let data = token_pair(&state, &ring, &user, &session, next)?;
            Ok(envelope(data, Map::new()).into_response())
        }
        RefreshOutcome::Reused {
            session_id,
            user_id,
        } => {
            // The store has revoked the session: its access tokens stop here and now too.
            state.auth.sessions.forget(session_id);
            audit(
                &state,
                "refresh_token_reuse",
                "denied",
                Some(user_id.to_string()),
                Some(format!("session {session_id} revoked")),
            )
            .await;
            Err(invalid())
        }
        RefreshOutcome::Invalid => Err(invalid()),
    }
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let revoked = state
        .store
        .revoke_session(caller.user_id, caller.session_id, "logout")
        .await;
    // Forgotten even when the store answers with an error: the revocation may have committed.
    state.auth.sessions.forget(caller.session_id);
    revoked?;
    audit(
        &state,
        "logout",
        "success",
        Some(caller.user_id.to_string()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
