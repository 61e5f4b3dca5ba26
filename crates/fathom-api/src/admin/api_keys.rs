//! `/api/v1/admin/api-keys`: create (the key is in the answer once and stored only as a hash),
//! list and revoke the API keys of services. Creation and revocation are audited. A key records
//! the administrator who created it and is listed as `suspended` while that account is no
//! longer an administrator (see `auth::api_keys`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::{ApiKey, AuditEntry, KeyCreator};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Admin;
use crate::AppState;
use crate::auth::api_keys::{is_suspended, issue_as};
use crate::auth::parse_scopes;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;
use crate::records::tenancy::is_tenant_id;

const CREATE_KEYS: &[&str] = &["name", "scopes", "tenant"];

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationFailed,
        message.clone(),
        "Send {\"name\": \"billing service\", \"scopes\": [\"orders:list,view\"]}, optionally with \"tenant\".",
    )
    .with_field(field, "invalid", message)
}

/// A key as administrators see it: never the key or its hash. `status` is `revoked`,
/// `suspended` (its creator lost the `admin` role or was disabled) or `active`.
fn key_json(key: &ApiKey) -> Value {
    let status = if key.revoked_at.is_some() {
        "revoked"
    } else if is_suspended(key) {
        "suspended"
    } else {
        "active"
    };
    json!({
        "id": key.id.hyphenated().to_string(),
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "tenant": key.tenant,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "created_by": key.created_by.map(|id| id.hyphenated().to_string()),
        "status": status,
    })
}

fn audit(admin: &Admin, action: &str, key: &ApiKey) -> AuditEntry {
    AuditEntry {
        action: action.into(),
        outcome: "success".into(),
        actor: Some(admin.0.user_id.to_string()),
        target: Some(key.id.to_string()),
        request_id: Some(crate::request_id::current()),
        ip: crate::client_ip::current().map(|ip| ip.to_string()),
        detail: Some(format!("{} ({})", key.name, key.scopes.join(" "))),
        ..AuditEntry::default()
    }
}

pub async fn create(
    State(state): State<AppState>,
    admin: Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    if let Some(key) = body.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
        return Err(invalid(
            key,
            format!("`{key}` is not part of a new API key; send name, scopes and tenant."),
        ));
    }
    let name = match body.get("name") {
        Some(Value::String(n)) if (1..=100).contains(&n.trim().chars().count()) => n.trim(),
        _ => {
            return Err(invalid(
                "name",
                "`name` must say what the key is for, in 1 to 100 characters.".into(),
            ));
        }
    };
    let texts: Vec<String> = match body.get("scopes") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("scopes", "Every scope must be a string.".into()))?,
        _ => {
            return Err(invalid(
                "scopes",
                "`scopes` must be an array such as [\"products:list,view\"].".into(),
            ));
        }
    };
    let scopes = parse_scopes(&state.schema, &texts).map_err(|e| invalid("scopes", e))?;
    let tenant = match body.get("tenant") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if is_tenant_id(t) => Some(t.clone()),
        Some(_) => {
            return Err(invalid(
                "tenant",
                "`tenant` must be a tenant id (1 to 128 characters), or null for every tenant."
                    .into(),
            ));
        }
    };
    let (mut record, key) =
        issue_as(&state.store, Some(admin.0.user_id), name, &scopes, tenant).await?;
    // The creator is the caller, an administrator as of this request.
    record.creator = Some(KeyCreator {
        roles: admin.0.claims.roles.clone(),
        disabled: false,
    });
    state
        .store
        .audit(audit(&admin, "api_key_created", &record))
        .await?;
    let mut data = key_json(&record);
    data["key"] = json!(key);
    Ok((StatusCode::CREATED, envelope(data, Map::new())).into_response())
}

pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let keys = state.store.api_keys().await?;
    let data: Vec<Value> = keys.iter().map(key_json).collect();
    Ok(envelope(Value::Array(data), Map::new()).into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::new(
            ErrorCode::RecordNotFound,
            "No live API key has this id.",
            "List keys at GET /api/v1/admin/api-keys; a revoked key stays revoked.",
        )
    };
    let id = Uuid::parse_str(&raw).map_err(|_| not_found())?;
    let revoked = state
        .store
        .revoke_api_key(id)
        .await?
        .ok_or_else(not_found)?;
    state
        .store
        .audit(audit(&admin, "api_key_revoked", &revoked))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
