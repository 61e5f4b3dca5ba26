//! `GET /users` (`email=` finds one by its address, exactly; `filter=` matches an expression over
//! the account fields, `user_search.rs`), `GET /users/{id}`,
//! `PATCH /users/{id}` (roles, disabled, verified, tenant).
//! Disabling a user ends every session at once; every change (roles, tenant, verification)
//! applies to the user's existing access tokens at once on this node and within
//! `auth.session_cache_ms` on others, since requests act on the account, not the token. Every
//! change is audited.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::{AuditEntry, UserChanges};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Admin;
use crate::AppState;
use crate::auth::user_json;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

const UPDATABLE: &[&str] = &["roles", "disabled", "verified", "tenant"];

pub(super) fn user_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::RecordNotFound,
        "No user has this id.",
        "List users at GET /api/v1/admin/users.",
    )
}

pub(super) fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidId,
            "The user id is not a UUID.",
            "Use an `id` from GET /api/v1/admin/users.",
        )
    })
}

pub(super) fn admin_view(user: &fathom_store::User) -> Value {
    let mut json = user_json(user);
    json["disabled"] = json!(user.disabled);
    json["failed_logins"] = json!(user.failed_logins);
    json["locked_until"] = json!(user.locked_until);
    json["updated_at"] = json!(user.updated_at);
    json
}

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut limit = 50u32;
    let mut after = None;
    let mut email = None;
    let mut filter = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=200).contains(l))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidQuery,
                            "`limit` must be a whole number from 1 to 200.",
                            "Use for example limit=50.",
                        )
                    })?
            }
            "after" => after = Some(parse_id(&value)?),
            // Exact, whatever the case (emails are stored lowercased).
            "email" => email = Some(value.to_lowercase()),
            "filter" => filter = Some(value.into_owned()),
            other => {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "Unknown query parameter `{}`.",
                        other.chars().take(64).collect::<String>()
                    ),
                    "This endpoint takes limit, after, email and filter.",
                ));
            }
        }
    }
    if let Some(text) = &filter {
        let (users, next) = super::user_search::search(&state, text, after, limit).await?;
        let data: Vec<Value> = users.iter().map(admin_view).collect();
        let mut meta = Map::new();
        let next = next.map(|id| id.hyphenated().to_string());
        meta.insert("page".into(), json!({ "limit": limit, "next_after": next }));
        return Ok(envelope(Value::Array(data), meta).into_response());
    }
    let users = match &email {
        Some(email) => state
            .store
            .user_by_email(email)
            .await?
            .into_iter()
            .filter(|u| after.is_none_or(|a| u.id > a))
            .collect(),
        None => state.store.users(after, limit).await?,
    };
    let next = if users.len() == limit as usize {
        users.last().map(|u| u.id.hyphenated().to_string())
    } else {
        None
    };
    let data: Vec<Value> = users.iter().map(admin_view).collect();
    let mut meta = Map::new();
    meta.insert("page".into(), json!({ "limit": limit, "next_after": next }));
    Ok(envelope(Value::Array(data), meta).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state
        .store
        .user_by_id(parse_id(&id)?)
        .await?
        .ok_or_else(user_not_found)?;
    Ok(envelope(admin_view(&user), Map::new()).into_response())
}

pub(super) fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationFailed,
        message,
        "Fix the field and send the request again.",
    )
    .with_field(field, "invalid", message)
}

fn changes_from(body: &Map<String, Value>) -> Result<UserChanges, ApiError> {
    if let Some(key) = body.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return Err(invalid(
            key,
            &format!(
                "`{key}` cannot be changed here; the fields are roles, disabled, verified and tenant."
            ),
        ));
    }
    let boolean = |name: &str| -> Result<Option<bool>, ApiError> {
        match body.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(name, &format!("`{name}` must be true or false."))),
        }
    };
    let roles = match body.get("roles") {
        None => None,
        Some(Value::Array(items)) => {
            let roles: Option<Vec<String>> = items
                .iter()
                .map(|r| r.as_str().filter(|s| is_role_name(s)).map(str::to_owned))
                .collect();
            let roles = roles.filter(|r| r.len() <= 16).ok_or_else(|| {
                invalid(
                    "roles",
                    "`roles` must be up to 16 names of lowercase letters, digits, `_` or `-`.",
                )
            })?;
            Some(roles)
        }
        Some(_) => return Err(invalid("roles", "`roles` must be an array of role names.")),
    };
    let tenant = match body.get("tenant") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(t)) if crate::records::tenancy::is_tenant_id(t) => Some(Some(t.clone())),
        Some(_) => {
            return Err(invalid(
                "tenant",
                "`tenant` must be a non-empty string of at most 128 characters, or null.",
            ));
        }
    };
    Ok(UserChanges {
        roles,
        disabled: boolean("disabled")?,
        verified: boolean("verified")?,
        tenant,
    })
}

/// Whether `name` can be a role: 1 to 32 lowercase letters, digits, `_` or `-`.
pub fn is_role_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let changes = changes_from(&body)?;
    let before = state
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(user_not_found)?;
    let after = state.store.update_user(id, changes.clone()).await;
    // Disabling ended every session of the user, and any other change alters what they may do:
    // this node forgets its verdicts now, even if the update failed midway, so the next request
    // reads the account as it is.
    state.auth.sessions.forget_user(id);
    let after = after?;
    let mut detail = Vec::new();
    if before.roles != after.roles {
        detail.push(format!("roles {:?} -> {:?}", before.roles, after.roles));
    }
    if before.disabled != after.disabled {
        detail.push(format!(
            "disabled {} -> {}",
            before.disabled, after.disabled
        ));
    }
    if before.verified != after.verified {
        detail.push(format!(
            "verified {} -> {}",
            before.verified, after.verified
        ));
    }
    if before.tenant != after.tenant {
        detail.push("tenant changed".to_owned());
    }
    let entry = AuditEntry {
        action: "admin_user_update".into(),
        outcome: "success".into(),
        actor: Some(admin.user_id.to_string()),
        target: Some(id.to_string()),
        request_id: Some(crate::request_id::current()),
        ip: crate::client_ip::current().map(|ip| ip.to_string()),
        detail: Some(detail.join("; ")),
        ..AuditEntry::default()
    };
    state.store.audit(entry).await?;
    Ok(envelope(admin_view(&after), Map::new()).into_response())
}
