//! `GET /oauth/providers` (what a sign-in page may offer), `GET /identities` (the caller's
//! linked identities) and `DELETE /identities/{id}` (unlink one, never the last way in).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::Unlink;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::ProviderKind;
use crate::AppState;
use crate::auth::caller::Caller;
use crate::auth::tokens::audit;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn providers(State(state): State<AppState>) -> Result<Response, ApiError> {
    let data: Vec<Value> = state
        .auth
        .settings
        .oauth
        .providers
        .iter()
        .map(|p| {
            let kind = match p.kind {
                ProviderKind::Oidc { .. } => "oidc",
                ProviderKind::Github { .. } => "github",
            };
            json!({ "name": p.name, "kind": kind })
        })
        .collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let data: Vec<Value> = state
        .store
        .oauth_identities(caller.user_id)
        .await?
        .iter()
        .map(|i| {
            json!({
                "id": i.id.hyphenated().to_string(),
                "provider": i.provider,
                "subject": i.subject,
                "email": i.email,
                "created_at": i.created_at,
            })
        })
        .collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

pub async fn unlink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::new(
            ErrorCode::OAuthIdentityNotFound,
            "You have no linked identity with this id.",
            "List your identities at GET /api/v1/auth/identities.",
        )
    };
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    match state
        .store
        .unlink_oauth_identity(caller.user_id, id)
        .await?
    {
        Unlink::Removed => {
            audit(
                &state,
                "oauth_unlink",
                "success",
                Some(caller.user_id.to_string()),
                Some(id.to_string()),
            )
            .await;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Unlink::NotFound => Err(not_found()),
        Unlink::LastWay => Err(ApiError::new(
            ErrorCode::LastSignInMethod,
            "This identity is the account's last way to sign in.",
            "Set a password (password reset) or link another identity first.",
        )),
    }
}
