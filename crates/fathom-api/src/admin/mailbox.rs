//! `GET /api/v1/admin/mailbox?to=<email>`: the development mailbox, for local work and
//! walkthroughs, where no SMTP relay is configured. With a relay configured there is no mailbox
//! and the route answers 404, so a production server never shows mail (and its tokens) to anyone.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use serde_json::{Map, Value, json};

use super::Admin;
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if state.auth.smtp.is_some() {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            "There is no development mailbox: mail goes out over SMTP.",
            "Read the mail in the recipient's inbox.",
        ));
    }
    let mut to = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            // Given twice, it is refused like any other stray parameter.
            "to" if !value.is_empty() && to.is_none() => to = Some(value.into_owned()),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    "This endpoint takes one parameter, `to`: the recipient's address.",
                    "Use for example ?to=ada@example.com.",
                ));
            }
        }
    }
    let Some(to) = to else {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            "Name the recipient with `to`.",
            "Use for example ?to=ada@example.com.",
        ));
    };
    let data: Vec<Value> = state
        .auth
        .mailbox
        .to(&to)
        .into_iter()
        .map(|m| json!({ "to": m.to, "subject": m.subject, "body": m.body }))
        .collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}
