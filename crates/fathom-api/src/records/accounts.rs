//! Relations to user accounts (`fields.owner = { type = "relation", collection = "users" }`) at
//! the edge: the check that a written id names an account (in the record's tenant, for a
//! tenant-scoped collection), and `expand=owner`, which shows only what a caller may see of an
//! account: its id and the schema's `[users]` profile fields (hidden ones only to
//! administrators and the account itself), and its email only to the account itself and
//! administrators, or to everyone who sees the record when the schema sets
//! `[users] public_email = true`. Never the password hash, roles, lockout or verification state.

use std::collections::BTreeSet;
use std::sync::Arc;

use fathom_schema::{Collection, Schema};
use fathom_store::User;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::access::Principal;
use crate::AppState;
use crate::error::ApiError;

/// What `principal` may see of `user` when it is reached through a relation.
pub fn account_view(schema: &Schema, principal: &Principal, user: &User) -> Map<String, Json> {
    let own = match principal {
        Principal::User(caller) | Principal::Admin(caller) => caller.user_id == user.id,
        Principal::Anonymous | Principal::Service(_) | Principal::System => false,
    };
    let privileged = own || principal.is_admin();
    let mut view = Map::new();
    view.insert("id".into(), Json::String(user.id.hyphenated().to_string()));
    if privileged || schema.public_email {
        view.insert("email".into(), Json::String(user.email.clone()));
    }
    for field in schema.profile_fields() {
        if field.hidden && !privileged {
            continue;
        }
        if let Some(value) = user.profile.get(&field.name) {
            view.insert(field.name.clone(), value.clone());
        }
    }
    view
}

/// Expands the account relation `field` of `records` under `name` (one read for the page):
/// each record gets `expand.<name>`, the account as [`account_view`] shows it, or null when
/// the relation is empty or the account is gone.
pub async fn expand_accounts(
    state: &AppState,
    principal: &Principal,
    records: &mut [Map<String, Json>],
    name: &str,
    field: &str,
) -> Result<(), ApiError> {
    let ids: BTreeSet<Uuid> = records
        .iter()
        .filter_map(|r| Uuid::parse_str(r.get(field)?.as_str()?).ok())
        .collect();
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let users = state.store.users_by_ids(&ids).await?;
    for record in records.iter_mut() {
        let id = record
            .get(field)
            .and_then(Json::as_str)
            .and_then(|s| Uuid::parse_str(s).ok());
        let value = id
            .and_then(|id| users.iter().find(|u| u.id == id))
            .map_or(Json::Null, |u| {
                Json::Object(account_view(&state.schema, principal, u))
            });
        let slot = record
            .entry("expand")
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(expanded) = slot {
            expanded.insert(name.to_owned(), value);
        }
    }
    Ok(())
}

/// An account as `expand` and `fields` see it: `email` and the profile fields (what
/// [`account_view`] may show, at most), with no relations.
pub fn view_collection(schema: &Schema) -> Arc<Collection> {
    Arc::new(schema.accounts_view())
}

/// Refuses a non-administrator's filter or sort reading an account's email through a relation
/// unless the schema makes emails public (a filter could otherwise tell the email of any
/// account a record points at, one guess at a time).
pub fn reject_unseen(
    schema: &Schema,
    parameter: &str,
    path: &fathom_query::FieldPath,
) -> Result<(), ApiError> {
    if path.column == "email" && !schema.public_email {
        return Err(super::params::invalid(
            parameter,
            format!("`{}` cannot be used here.", path.dotted()),
            "Only administrators may read accounts' emails through a relation, unless the schema sets `[users] public_email = true`.".into(),
        ));
    }
    Ok(())
}
