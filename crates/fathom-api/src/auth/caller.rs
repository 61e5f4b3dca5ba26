//! The authenticated caller, from `Authorization: Bearer <access token>`. A missing, malformed,
//! forged or expired token is a 401 with `WWW-Authenticate: Bearer`, never a 5xx.
//!
//! Each request checks the token's signature and validity window, then that its session is
//! live, reading with it the account's current roles, tenant and verified flag: those, not the
//! token's claims, are what the request acts on, so a role removed, a tenant changed or a
//! verification withdrawn applies to tokens issued before the change. Both go through this
//! node's caches ([`super::cache`]): a token already verified here only has its window checked
//! again, and a session found live within `auth.session_cache_ms` is not read from the
//! database again (this node forgets it whenever it ends it or changes its account).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use fathom_auth::{AuthError, Claims};
use fathom_core::ErrorCode;
use fathom_store::Authority;
use uuid::Uuid;

use super::cache::VerifiedToken;
use super::keys::unix_now;
use crate::AppState;
use crate::error::ApiError;

/// A caller holding a valid access token (the records engine's type).
pub use fathom_engine::Caller;

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        detail,
        "Send `Authorization: Bearer <access_token>` from /api/v1/auth/login; when it expires, get a new one from /api/v1/auth/refresh.",
    )
}

/// The token of `Authorization: Bearer <token>`: `None` without the header, a 401 when the
/// header is not a bearer token.
pub fn bearer_token(parts: &Parts) -> Result<Option<&str>, ApiError> {
    bearer_in(&parts.headers)
}

/// [`bearer_token`] from a request's headers.
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(header) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Some)
        .ok_or_else(|| unauthorized("The Authorization header must be `Bearer <access_token>`."))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?
            .ok_or_else(|| unauthorized("This endpoint needs an access token."))?;
        caller_from_token(state, token).await
    }
}

/// The caller an access token names, if the token is valid and its session live (the check
/// every request makes, also repeated by realtime connections while they stay open).
pub async fn caller_from_token(state: &AppState, token: &str) -> Result<Caller, ApiError> {
        if token.starts_with(super::API_KEY_TAG) {
            return Err(unauthorized(
                "API keys are accepted by the records endpoints only; this endpoint needs a user's access token.",
            ));
        }
        let now = unix_now();
        let token = match state.auth.tokens.get(token, now) {
            Some(verified) => verified,
            None => verify(state, token, now).await?,
        };
        // A token outlives nothing: logout, revocation, reuse detection and disable end it at
        // once on this node, and on others within `auth.session_cache_ms`.
        let Some(authority) = live_authority(state, token.user_id, token.session_id).await? else {
            return Err(unauthorized("The session of this access token has ended."));
        };
        let VerifiedToken {
            claims,
            user_id,
            session_id,
        } = token;
        Ok(Caller {
            claims: current_claims(claims, &authority),
            user_id,
            session_id,
        })
    }

/// Verifies `token` with the key ring (reloading it once when the token names an unknown key)
/// and remembers it for the next request.
async fn verify(state: &AppState, token: &str, now: i64) -> Result<VerifiedToken, ApiError> {
    let auth = &state.auth;
    let ring = auth.keys.ring(&state.store, false).await;
    let verified = match ring.verify(&auth.settings.tokens, token, now) {
        Err(AuthError::UnknownKey) => {
            auth.keys
                .ring(&state.store, true)
                .await
                .verify(&auth.settings.tokens, token, now)
        }
        other => other,
    };
    let claims = verified.map_err(|e| match e {
        AuthError::Expired => unauthorized("The access token has expired."),
        _ => unauthorized("The access token is not valid."),
    })?;
    let (Ok(user_id), Ok(session_id)) =
        (Uuid::parse_str(&claims.sub), Uuid::parse_str(&claims.sid))
    else {
        return Err(unauthorized("The access token is not valid."));
    };
    let verified = VerifiedToken {
        claims: Arc::new(claims),
        user_id,
        session_id,
    };
    auth.tokens.insert(token, verified.clone(), now);
    Ok(verified)
}

/// The account's authority if the session is live: remembered a moment ago on this node, or
/// read from the database now. `None` when the session has ended.
async fn live_authority(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<Arc<Authority>>, ApiError> {
    let sessions = &state.auth.sessions;
    if let Some(authority) = sessions.get(user_id, session_id) {
        return Ok(Some(authority));
    }
    let generation = sessions.generation();
    let Some(authority) = state
        .store
        .live_session_authority(user_id, session_id)
        .await?
    else {
        return Ok(None);
    };
    let authority = Arc::new(authority);
    sessions.remember(user_id, session_id, Arc::clone(&authority), generation);
    Ok(Some(authority))
}

/// The token's claims with the account's current roles, tenant and verified flag. Nearly
/// always they agree and the token's claims are shared as they are; only a token issued before
/// an account change pays for a copy.
fn current_claims(claims: Arc<Claims>, authority: &Authority) -> Arc<Claims> {
    if claims.roles == authority.roles
        && claims.tenant == authority.tenant
        && claims.verified == authority.verified
    {
        return claims;
    }
    Arc::new(Claims {
        roles: authority.roles.clone(),
        tenant: authority.tenant.clone(),
        verified: authority.verified,
        ..Claims::clone(&claims)
    })
}
