//! `POST /auth/verify/resend`: asks for the verification mail again. Every request is answered
//! alike (202, the same body) before the address is looked up, so the answer tells nothing of
//! which addresses have accounts; the mail goes only to an account that exists and is not yet
//! verified, within the per-recipient cap (`mail.per_recipient_per_hour`), and the route sits
//! in the `verify` rate-limit family.

use axum::extract::State;
use axum::response::Response;

use super::account::accepted;
use super::notify::{TokenMail, after_answer, mail_token};
use super::tokens::{audit, text_field};
use crate::AppState;
use crate::body::JsonObject;
use crate::error::ApiError;

const RESENT: &str =
    "If an unverified account uses this address, a verification email is on its way.";

pub async fn resend_verification(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let email = text_field(&body, "email")?.to_lowercase();
    let state = state.clone();
    after_answer("verification mail", async move {
        if let Some(user) = state.store.user_by_email(&email).await?
            && !user.verified
        {
            audit(
                &state,
                "verification_resent",
                "success",
                Some(user.id.to_string()),
                None,
            )
            .await;
            mail_token(&state, user.id, email, TokenMail::Verify).await?;
        }
        Ok(())
    });
    Ok(accepted(RESENT))
}
