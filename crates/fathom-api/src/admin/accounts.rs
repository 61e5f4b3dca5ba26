//! Account management beyond `users.rs`. `POST /users` creates an account with any roles: with
//! a password (checked against the password policy), or with `invite = true`, which mails a
//! set-password link (a single-use token redeemed at `/auth/password-reset/confirm`) and leaves
//! the account without a usable password until then. `PUT /users/{id}/password` sets a
//! password, ending the account's sessions. `DELETE /users/{id}` removes an account. The records
//! that point at it through relations (`collection = "users"`) follow each relation's
//! `on_delete`: `cascade` removes them, `set_null` clears the reference (each change with its
//! outbox event, in the deletion's transaction), and `restrict` refuses the deletion with 409
//! `relation_violation` naming the relations still holding the account. The account's sessions
//! go with it, and this node forgets its verdicts at once, so its access tokens stop working
//! here immediately (elsewhere within `auth.session_cache_ms`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_store::{Actor, AuditEntry, NewUser, Origin, StoreErrorKind};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::Admin;
use super::users::{admin_view, invalid, is_role_name, parse_id, user_not_found};
use crate::AppState;
use crate::auth::account::{check_policy, plausible_email, weak_password};
use crate::auth::notify::{TokenMail, after_answer, mail_token};
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;
use crate::records::accounts::view_collection;

const CREATE_KEYS: &[&str] = &["email", "password", "roles", "tenant", "verified", "invite"];

/// A new account as an administrator describes it.
struct NewAccount {
    email: String,
    password: Option<String>,
    roles: Vec<String>,
    tenant: Option<String>,
    verified: bool,
    invite: bool,
}

fn new_account(body: &Map<String, Value>) -> Result<NewAccount, ApiError> {
    if let Some(key) = body.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
        return Err(invalid(
            key,
            &format!(
                "`{key}` is not a field of a new user; the fields are email, password, roles, tenant, verified and invite."
            ),
        ));
    }
    let email = match body.get("email") {
        Some(Value::String(e)) if plausible_email(&e.to_lowercase()) => e.to_lowercase(),
        _ => return Err(invalid("email", "`email` must be an email address.")),
    };
    let password = match body.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(invalid("password", "`password` must be a string.")),
    };
    let roles = match body.get("roles") {
        None => vec!["user".to_owned()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| r.as_str().filter(|s| is_role_name(s)).map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .filter(|r| r.len() <= 16)
            .ok_or_else(|| {
                invalid(
                    "roles",
                    "`roles` must be up to 16 names of lowercase letters, digits, `_` or `-`.",
                )
            })?,
        Some(_) => return Err(invalid("roles", "`roles` must be an array of role names.")),
    };
    let tenant = match body.get("tenant") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if crate::records::tenancy::is_tenant_id(t) => Some(t.clone()),
        Some(_) => {
            return Err(invalid(
                "tenant",
                "`tenant` must be a non-empty string of at most 128 characters, or null.",
            ));
        }
    };
    let flag = |name: &str| match body.get(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid(name, &format!("`{name}` must be true or false."))),
    };
    let verified = flag("verified")?;
    let invite = flag("invite")?;
    if password.is_some() == invite {
        return Err(invalid(
            "password",
            "Give either a `password` or `invite = true` (a set-password link by mail), not both or neither.",
        ));
    }
    Ok(NewAccount {
        email,
        password,
        roles,
        tenant,
        verified,
        invite,
    })
}

fn audit_entry(action: &str, admin: Uuid, target: Uuid, detail: Option<String>) -> AuditEntry {
    AuditEntry {
        action: action.into(),
        outcome: "success".into(),
        actor: Some(admin.to_string()),
        target: Some(target.to_string()),
        request_id: Some(crate::request_id::current()),
        ip: crate::client_ip::current().map(|ip| ip.to_string()),
        detail,
        ..AuditEntry::default()
    }
}

pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let account = new_account(&body)?;
    // An invited account gets the hash of a random secret nobody holds: no password signs in
    // until the invitation's link sets one.
    let secret = match &account.password {
        Some(password) => {
            check_policy(&state, "password", password, Some(&account.email))?;
            password.clone()
        }
        None => fathom_auth::generate_token(),
    };
    let hash = state
        .auth
        .hasher
        .hash(&secret)
        .await
        .map_err(|e| weak_password("password", e))?;
    let user = NewUser {
        email: account.email.clone(),
        password_hash: hash,
        roles: account.roles,
        tenant: account.tenant,
        verified: account.verified,
    };
    let user = state.store.create_user(user).await?;
    let how = if account.invite {
        "invited"
    } else {
        "with a password"
    };
    let entry = audit_entry(
        "admin_user_create",
        admin.user_id,
        user.id,
        Some(format!("roles {:?}, {how}", user.roles)),
    );
    state.store.audit(entry).await?;
    if account.invite {
        let (state, id, email) = (state.clone(), user.id, user.email.clone());
        after_answer("invitation mail", async move {
            mail_token(&state, id, email, TokenMail::Invite).await
        });
    }
    let mut response = envelope(admin_view(&user), Map::new()).into_response();
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

pub async fn set_password(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    if let Some(key) = body.keys().find(|k| k.as_str() != "password") {
        return Err(invalid(
            key,
            &format!("`{key}` is not accepted here; send `password` alone."),
        ));
    }
    let Some(Value::String(password)) = body.get("password") else {
        return Err(invalid("password", "`password` must be a string."));
    };
    let user = state
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(user_not_found)?;
    check_policy(&state, "password", password, Some(&user.email))?;
    let hash = state
        .auth
        .hasher
        .hash(password)
        .await
        .map_err(|e| weak_password("password", e))?;
    // Like a reset: every session of the account ends, and a lockout is lifted.
    let set = state.store.set_password(id, hash, None).await;
    state.auth.sessions.forget_user(id);
    state.auth.throttle.forget_account(&user.email).await;
    set?;
    let entry = audit_entry("admin_password_set", admin.user_id, id, None);
    state.store.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let origin = Origin {
        actor: Actor::User(admin.user_id),
        request_id: Some(crate::request_id::current()).filter(|r| !r.is_empty()),
    };
    let outcome = state.store.delete_user(id, origin).await;
    // Whatever the outcome (an unknown one may have committed): the account's verdicts and the
    // cached answers that could show it or the records its deletion changed are dropped now.
    state.auth.sessions.forget_user(id);
    for collection in state.schema.collections.values() {
        if collection
            .fields
            .iter()
            .any(|f| f.kind.points_at_accounts())
        {
            state.cache.invalidate(&collection.name);
        }
    }
    match outcome {
        Ok(true) => {}
        Ok(false) => return Err(user_not_found()),
        Err(error) if error.kind == StoreErrorKind::ForeignKeyViolation => {
            let accounts = view_collection(&state.schema);
            let holding = crate::records::write::referrers(&state, &accounts, id).await;
            return Err(crate::records::write::still_referenced(&holding).into());
        }
        Err(error) => return Err(error.into()),
    }
    let entry = audit_entry("admin_user_delete", admin.user_id, id, None);
    state.store.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
