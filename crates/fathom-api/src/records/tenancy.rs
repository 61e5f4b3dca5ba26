//! Tenant-scoped writes at the edge. The store confines every read and write to the caller's
//! tenant by itself (`fathom_store::Scope`); what is left here is the tenant an administrator
//! names for a new record, and the check that a record's relations stay inside its tenant.

use std::borrow::Cow;
use std::collections::HashMap;

use fathom_core::ErrorCode;
use fathom_schema::{Collection, FieldType, Schema, TENANT_FIELD, Value};
use fathom_store::Scope;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::access::Principal;
use super::write::missing_targets;
use crate::AppState;
use crate::error::ApiError;

/// A create body with `tenant` taken out, and the tenant it named.
pub type TenantSplit<'b> = (Cow<'b, Map<String, Json>>, Option<String>);

/// Whether `tenant` is an acceptable tenant id: 1 to 128 bytes, no control characters.
pub fn is_tenant_id(tenant: &str) -> bool {
    (1..=128).contains(&tenant.len()) && !tenant.chars().any(char::is_control)
}

/// The body of a create without `tenant`, and the tenant it names. Only callers that reach every
/// tenant (administrators, API keys without a tenant) may name the tenant of a new record of a
/// tenant-scoped collection; for anyone else `tenant` stays in the body, where validation
/// refuses it as a system field.
pub fn take_tenant<'b>(
    collection: &Collection,
    principal: &Principal,
    body: &'b Map<String, Json>,
) -> Result<TenantSplit<'b>, ApiError> {
    if !(principal.scope() == Scope::AllTenants && collection.tenant_scoped) {
        return Ok((Cow::Borrowed(body), None));
    }
    let Some(named) = body.get(TENANT_FIELD) else {
        return Ok((Cow::Borrowed(body), None));
    };
    let tenant = match named {
        Json::String(t) if is_tenant_id(t) => t.clone(),
        _ => {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
                "`tenant` must be a tenant id: a string of 1 to 128 characters.",
                "Name the tenant the new record belongs to, or leave `tenant` out.",
            )
            .with_field(TENANT_FIELD, "invalid", "Not a tenant id."));
        }
    };
    let mut rest = body.clone();
    rest.remove(TENANT_FIELD);
    Ok((Cow::Owned(rest), Some(tenant)))
}

/// The scope a new record is written in: the tenant an administrator named, else the caller's.
pub fn create_scope(principal: &Principal, named: Option<&String>) -> Scope {
    match named {
        Some(tenant) => Scope::Tenant(tenant.clone()),
        None => principal.scope(),
    }
}

/// Records created by earlier operations of the same batch, not stored yet: their id, and the
/// scope (tenant) each is created in.
pub type Pending = HashMap<Uuid, Scope>;

/// Refuses relation values of a record in `scope` that point at records of tenant-scoped
/// collections outside that tenant (another tenant's ids answer as if they did not exist).
/// Relations into shared collections are not restricted. With [`Scope::AllTenants`] the
/// record's own tenant decides: `record` names the stored record whose tenant to use.
/// Relations to accounts are checked too (`accounts.rs`): the account must exist and, in a
/// tenant-scoped collection, belong to the record's tenant.
pub async fn check_relation_tenants(
    state: &AppState,
    collection: &std::sync::Arc<Collection>,
    scope: &Scope,
    record: Option<Uuid>,
    values: &[(String, Value)],
) -> Result<(), ApiError> {
    check_relation_tenants_in_batch(state, collection, scope, record, values, &Pending::new()).await
}

/// [`check_relation_tenants`] inside a batch, where a relation may point at a record that an
/// earlier operation creates: such a target must be created in the same tenant.
pub async fn check_relation_tenants_in_batch(
    state: &AppState,
    collection: &std::sync::Arc<Collection>,
    scope: &Scope,
    record: Option<Uuid>,
    values: &[(String, Value)],
    pending: &Pending,
) -> Result<(), ApiError> {
    let targets: Vec<(&str, &std::sync::Arc<Collection>, Uuid)> =
        scoped_targets(&state.schema, collection, values);
    let accounts = values.iter().any(|(name, _)| {
        collection
            .field(name)
            .is_some_and(|f| f.kind.points_at_accounts())
    });
    if targets.is_empty() && !accounts {
        return Ok(());
    }
    let scope = match (scope, record) {
        (Scope::AllTenants, Some(id)) => match pending.get(&id) {
            // A record created earlier in the batch is not stored yet: its tenant is known here.
            Some(created_in) => created_in.clone(),
            None => match state.store.get(scope, collection.clone(), id).await? {
                Some(stored) => Scope::of_member(stored.tenant.as_deref()),
                // The write itself answers 404.
                None => return Ok(()),
            },
        },
        _ => scope.clone(),
    };
    super::accounts::check_account_targets(state, collection, &scope, values).await?;
    for (field, target, id) in targets {
        let exists = match pending.get(&id) {
            Some(created_in) => *created_in == scope,
            None => state.store.get(&scope, target.clone(), id).await?.is_some(),
        };
        if !exists {
            return Err(missing_targets(&[(field, &target.name)]));
        }
    }
    Ok(())
}

/// The relation values of `values` that point into tenant-scoped collections.
fn scoped_targets<'a>(
    schema: &'a Schema,
    collection: &Collection,
    values: &'a [(String, Value)],
) -> Vec<(&'a str, &'a std::sync::Arc<Collection>, Uuid)> {
    values
        .iter()
        .filter_map(|(name, value)| {
            let field = collection.field(name)?;
            let FieldType::Relation {
                collection: target, ..
            } = &field.kind
            else {
                return None;
            };
            let target = schema.collection(target).filter(|t| t.tenant_scoped)?;
            let Value::Text(id) = value else {
                return None;
            };
            Some((name.as_str(), target, Uuid::parse_str(id).ok()?))
        })
        .collect()
}
