//! Changing one's email: `POST /auth/email` `{new_email, password}` (the current password, held
//! by the login throttle like `/password`) mails a confirmation link to the new address and a
//! notice to the old one; the answer is the same 202 whether or not the new address is taken
//! (a taken one gets no link). The old address keeps signing in until the link's token comes
//! back to `POST /auth/verify`, which then gives the account the new address, verified, in one
//! transaction (`Store::confirm_email_change`; 409 `unique_violation` if the address was taken
//! meanwhile, the token left unspent).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_auth::hash_token;
use fathom_core::ErrorCode;

use super::account::{
    accepted, account_gone, check_current_password, plausible_email, token_rejected,
};
use super::caller::Caller;
use super::notify::{TokenMail, after_answer, mail_notice, mail_token};
use super::tokens::{audit, text_field};
use crate::AppState;
use crate::body::JsonObject;
use crate::error::ApiError;

const REQUESTED: &str = "A confirmation link is on its way to the new address; until it is used, the current address stays in place.";

pub async fn request_change(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let new = text_field(&body, "new_email")?.to_lowercase();
    let password = text_field(&body, "password")?;
    if !plausible_email(&new) {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "The new email address is not valid.",
            "Use an address such as ada@example.com.",
        )
        .with_field(
            "new_email",
            "invalid_format",
            "The email address is not valid.",
        ));
    }
    let user = state
        .store
        .user_by_id(caller.user_id)
        .await?
        .ok_or_else(account_gone)?;
    check_current_password(&state, &user, &password, "email_change").await?;
    if new == user.email {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "This is already the account's address.",
            "Send the address you want to change to.",
        )
        .with_field("new_email", "unchanged", "This is the current address."));
    }
    let state = state.clone();
    after_answer("email-change mail", async move {
        audit(
            &state,
            "email_change_requested",
            "success",
            Some(user.id.to_string()),
            None,
        )
        .await;
        let notice = format!(
            "Someone signed in to your account asked to change its email address to {new}. \
             Until the new address is confirmed, this one stays in place. If this was not you, \
             change your password now."
        );
        mail_notice(
            &state,
            user.email.clone(),
            "Your email address is about to change",
            notice,
        )
        .await;
        // A taken address gets no link: confirming it could only fail.
        if state.store.user_by_email(&new).await?.is_none() {
            mail_token(&state, user.id, new, TokenMail::EmailChange).await?;
        }
        Ok(())
    });
    Ok(accepted(REQUESTED))
}

/// Confirms a new address with `token` (from `POST /auth/verify`).
pub(super) async fn confirm(state: &AppState, token: &str) -> Result<Response, ApiError> {
    let user = state
        .store
        .confirm_email_change(hash_token(token))
        .await?
        .ok_or_else(token_rejected)?;
    // Requests act on the account as it is now: this node reads it again at once.
    state.auth.sessions.forget_user(user.id);
    audit(
        state,
        "email_changed",
        "success",
        Some(user.id.to_string()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
