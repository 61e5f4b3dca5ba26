//! API keys for services: `Authorization: Bearer fth_<prefix>_<secret>`. A key is looked up by
//! its visible prefix and accepted only when the SHA-256 of the whole key matches the stored
//! hash (compared in constant time) and it is not revoked. A key is never an administrator: it
//! may do exactly what its scopes name on the records endpoints, within its tenant if it has
//! one. Keys are issued here for both the admin endpoint and `fathom keys create`.
//!
//! A key an administrator created through the API holds that administrator's authority, so it
//! works only while its creator still has the `admin` role and is not disabled (checked on
//! every use, in the same read as the key): otherwise it is suspended, and works again if the
//! creator is restored. Without that, a demoted administrator could keep its access through a
//! key minted before the demotion. A key made with `fathom keys create` has no creator: the
//! operator who can run the CLI on the database holds every authority anyway.

use fathom_auth::{KeyScope, api_key_prefix, constant_time_eq, generate_api_key, hash_token};
use fathom_core::ErrorCode;
use fathom_schema::Schema;
use fathom_store::{ApiKey, Store, StoreError};
use uuid::Uuid;

use crate::AppState;
use crate::admin::ADMIN_ROLE;
use crate::error::ApiError;

/// The tag every API key starts with, which tells it from an access token.
pub const API_KEY_TAG: &str = "fth_";

/// A caller authenticated by a live API key (the records engine's type).
pub use fathom_engine::ServiceKey;

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        detail,
        "Send `Authorization: Bearer <api key>` with a key an administrator created and has not revoked.",
    )
}

/// Authenticates `token` as an API key.
pub async fn authenticate(state: &AppState, token: &str) -> Result<ServiceKey, ApiError> {
    let invalid = || unauthorized("The API key is not valid.");
    let prefix = api_key_prefix(token).ok_or_else(invalid)?;
    let stored = state
        .store
        .api_key_by_prefix(prefix)
        .await?
        .ok_or_else(invalid)?;
    if !constant_time_eq(hash_token(token).as_bytes(), stored.hash.as_bytes()) {
        return Err(invalid());
    }
    if stored.revoked_at.is_some() {
        return Err(unauthorized("The API key has been revoked."));
    }
    if is_suspended(&stored) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "The API key is suspended: the administrator who created it no longer holds the `admin` role or is disabled.",
            "Ask a current administrator to create a new key (and revoke this one), or to restore its creator.",
        ));
    }
    let scopes = stored
        .scopes
        .iter()
        .map(|s| KeyScope::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal(format!("a stored API key scope: {e}")))?;
    Ok(ServiceKey {
        id: stored.id,
        name: stored.name,
        scopes,
        tenant: stored.tenant,
    })
}

/// Whether a key's creator has lost the authority the key was made with: an account that no
/// longer exists, is disabled or lacks the `admin` role. A key without a creator (made with the
/// CLI) is never suspended.
pub fn is_suspended(key: &ApiKey) -> bool {
    key.created_by.is_some()
        && !key
            .creator
            .as_ref()
            .is_some_and(|c| !c.disabled && c.roles.iter().any(|r| r == ADMIN_ROLE))
}

/// Parses scope texts and checks that each names a collection of `schema` (or `*`). The error
/// is a sentence saying which scope is wrong and why.
pub fn parse_scopes(schema: &Schema, texts: &[String]) -> Result<Vec<KeyScope>, String> {
    if texts.is_empty() || texts.len() > 50 {
        return Err(format!(
            "A key needs 1 to 50 scopes, not {}; for example `products:list,view`.",
            texts.len()
        ));
    }
    texts
        .iter()
        .map(|text| {
            let scope = KeyScope::parse(text)?;
            if scope.collection != "*"
                && !scope.is_events_read()
                && schema.collection(&scope.collection).is_none()
            {
                return Err(format!(
                    "The scope `{text}` names `{}`, which is not a collection of the schema.",
                    scope.collection
                ));
            }
            Ok(scope)
        })
        .collect()
}

/// Creates and stores a new key without a creator account (the operator's, from the CLI).
/// Returns the stored record and the key itself, which exists nowhere else: show it once.
pub async fn issue(
    store: &Store,
    name: &str,
    scopes: &[KeyScope],
    tenant: Option<String>,
) -> Result<(ApiKey, String), StoreError> {
    issue_as(store, None, name, scopes, tenant).await
}

/// Like [`issue`], for a key made by the administrator `created_by`, which works only while
/// that account keeps the `admin` role (see [`is_suspended`]).
pub async fn issue_as(
    store: &Store,
    created_by: Option<Uuid>,
    name: &str,
    scopes: &[KeyScope],
    tenant: Option<String>,
) -> Result<(ApiKey, String), StoreError> {
    let (key, prefix) = generate_api_key();
    let record = ApiKey {
        id: Uuid::now_v7(),
        prefix,
        hash: hash_token(&key),
        name: name.to_owned(),
        scopes: scopes.iter().map(ToString::to_string).collect(),
        tenant,
        created_at: fathom_schema::value::now_timestamp(),
        revoked_at: None,
        created_by,
        creator: None,
    };
    store.create_api_key(record.clone()).await?;
    Ok((record, key))
}
