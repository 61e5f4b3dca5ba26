//! `GET /sessions` (the caller's live sessions), `DELETE /sessions/{id}` (end one),
//! `DELETE /sessions` (end every other one).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::caller::Caller;
use super::tokens::audit;
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let sessions = state.store.sessions(caller.user_id).await?;
    let data: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id.hyphenated().to_string(),
                "current": s.id == caller.session_id,
                "created_at": s.created_at,
                "last_used_at": s.last_used_at,
                "expires_at": s.expires_at,
                "user_agent": s.user_agent,
                "ip": s.ip,
            })
        })
        .collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

pub async fn revoke_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::new(
            ErrorCode::RecordNotFound,
            "You have no live session with this id.",
            "List your sessions at GET /api/v1/auth/sessions.",
        )
    };
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let revoked = state
        .store
        .revoke_session(caller.user_id, id, "revoked_by_user")
        .await;
    state.auth.sessions.forget(id);
    if !revoked? {
        return Err(not_found());
    }
    audit(
        &state,
        "session_revoked",
        "success",
        Some(caller.user_id.to_string()),
        Some(id.to_string()),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn revoke_others(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let revoked = state
        .store
        .revoke_sessions(caller.user_id, Some(caller.session_id), "revoked_by_user")
        .await;
    state.auth.sessions.forget_user(caller.user_id);
    let revoked = revoked?;
    audit(
        &state,
        "sessions_revoked",
        "success",
        Some(caller.user_id.to_string()),
        Some(format!("{revoked} sessions")),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
