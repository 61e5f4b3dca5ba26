//! Who may do what to records, at the HTTP edge. The rules themselves (rule filters, hidden
//! fields, the create rule against a new record, a refused change) live in the records engine
//! (`fathom_engine::access`) and are re-exported here; this module authenticates a request's
//! caller as a [`Principal`] and refuses query parameters that name hidden fields.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use fathom_query::FieldPath;
use fathom_schema::{Collection, Schema};

pub use fathom_engine::Principal;
pub use fathom_engine::access::{
    check_new_record, check_rules, confine_hops, refused_change, rule,
    strip_hidden, visible_json,
};

use crate::AppState;
use crate::admin::ADMIN_ROLE;
use crate::auth::{API_KEY_TAG, api_keys, bearer_token, caller_from_token};
use crate::error::ApiError;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The rate limiter identified the caller already (`crate::limits`).
        if let Some(principal) = parts.extensions.get::<Self>() {
            return Ok(principal.clone());
        }
        authenticate(state, bearer_token(parts)?).await
    }
}

/// The principal a credential names: none is anonymous; an API key is a service; anything else
/// must be a live user's access token. A credential that is present but bad is an error, never
/// a silent fall back to anonymous.
pub async fn authenticate(state: &AppState, token: Option<&str>) -> Result<Principal, ApiError> {
    match token {
        None => Ok(Principal::Anonymous),
        Some(token) if token.starts_with(API_KEY_TAG) => Ok(Principal::Service(
            api_keys::authenticate(state, token).await?,
        )),
        Some(token) => {
            let caller = caller_from_token(state, token).await?;
            Ok(if caller.claims.roles.iter().any(|r| r == ADMIN_ROLE) {
                Principal::Admin(caller)
            } else {
                Principal::User(caller)
            })
        }
    }
}

/// Refuses a non-administrator's filter, sort or selection naming a hidden field.
pub fn reject_hidden(
    schema: &Schema,
    collection: &Arc<Collection>,
    principal: &Principal,
    parameter: &str,
    paths: &[FieldPath],
) -> Result<(), ApiError> {
    if principal.is_admin() {
        return Ok(());
    }
    for path in paths {
        let owner = match path.hops.last() {
            Some(hop) if hop.collection == fathom_schema::ACCOUNTS => {
                super::accounts::reject_unseen(schema, parameter, path)?;
                Some(super::accounts::view_collection(schema))
            }
            Some(hop) => schema.collection(&hop.collection).cloned(),
            None => Some(collection.clone()),
        };
        if owner
            .and_then(|c| c.field(&path.column).map(|f| f.hidden))
            .unwrap_or(false)
        {
            return Err(super::params::invalid(
                parameter,
                format!("`{}` cannot be used here.", path.dotted()),
                "Use a field you can read.".into(),
            ));
        }
    }
    Ok(())
}
