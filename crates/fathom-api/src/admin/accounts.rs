//! Account management beyond `users.rs`: `DELETE /users/{id}` removes an account. The records
//! that point at it through relations (`collection = "users"`) follow each relation's
//! `on_delete`: `cascade` removes them, `set_null` clears the reference (each change with its
//! outbox event, in the deletion's transaction), and `restrict` refuses the deletion with 409
//! `relation_violation` naming the relations still holding the account. The account's sessions
//! go with it, and this node forgets its verdicts at once, so its access tokens stop working
//! here immediately (elsewhere within `auth.session_cache_ms`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_store::{Actor, AuditEntry, Origin, StoreErrorKind};

use super::Admin;
use super::users::{parse_id, user_not_found};
use crate::AppState;
use crate::error::ApiError;
use crate::records::accounts::view_collection;

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
            return Err(crate::records::write::still_referenced(&holding));
        }
        Err(error) => return Err(error.into()),
    }
    let entry = AuditEntry {
        action: "admin_user_delete".into(),
        outcome: "success".into(),
        actor: Some(admin.user_id.to_string()),
        target: Some(id.to_string()),
        request_id: Some(crate::request_id::current()),
        ip: crate::client_ip::current().map(|ip| ip.to_string()),
        ..AuditEntry::default()
    };
    state.store.audit(entry).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
