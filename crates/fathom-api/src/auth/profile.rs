//! `PATCH /api/v1/auth/me`: a user changes their own profile, the fields the schema's `[users]`
//! table declares. They are validated like record fields; anything else (email, roles, tenant,
//! verified, ids) is refused, so an account cannot promote itself.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_schema::record::value_to_json;
use fathom_schema::validate_patch;
use serde_json::Map;

use super::account::account_gone;
use super::caller::Caller;
use super::tokens::user_json;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let Some(profile) = &state.schema.users else {
        // Nothing to change is no error, as with a record: `{}` answers the profile as it is.
        if body.is_empty() {
            let user = state
                .store
                .user_by_id(caller.user_id)
                .await?
                .ok_or_else(account_gone)?;
            return Ok(envelope(user_json(&user), Map::new()).into_response());
        }
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "This server declares no profile fields, so there is nothing to change here.",
            "Declare them in the schema file under `[users]`, e.g. `fields.display_name = { type = \"text\" }`; email and password have endpoints of their own.",
        ));
    };
    let values = validate_patch(profile, &body).map_err(ApiError::validation)?;
    let patch: Map<String, serde_json::Value> = values
        .iter()
        .map(|(name, value)| (name.clone(), value_to_json(value)))
        .collect();
    let user = state
        .store
        .patch_profile(caller.user_id, patch)
        .await?
        .ok_or_else(account_gone)?;
    Ok(envelope(user_json(&user), Map::new()).into_response())
}
