//! Tenant-scoped writes at the edge. The store confines every read and write to the caller's
//! tenant by itself (`fathom_store::Scope`); what is left here is the tenant an administrator
//! names for a new record, and the check that a record's relations stay inside its tenant.

use std::borrow::Cow;

use fathom_core::ErrorCode;
use fathom_schema::{Collection, FieldType, Schema, TENANT_FIELD, Value};
use fathom_store::Scope;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::access::Principal;
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

/// Refuses relation values of a record in `scope` that point at records of tenant-scoped
/// collections outside that tenant (another tenant's ids answer as if they did not exist).
/// Relations into shared collections are not restricted. With [`Scope::AllTenants`] the
/// record's own tenant decides: `record` names the stored record whose tenant to use.
pub async fn check_relation_tenants(
    state: &AppState,
    collection: &std::sync::Arc<Collection>,
    scope: &Scope,
    record: Option<Uuid>,
    values: &[(String, Value)],
) -> Result<(), ApiError> {
    let targets: Vec<(&str, &std::sync::Arc<Collection>, Uuid)> =
        scoped_targets(&state.schema, collection, values);
    if targets.is_empty() {
        return Ok(());
    }
    let scope = match (scope, record) {
        (Scope::AllTenants, Some(id)) => {
            match state.store.get(scope, collection.clone(), id).await? {
                Some(stored) => Scope::of_member(stored.tenant.as_deref()),
                // The write itself answers 404.
                None => return Ok(()),
            }
        }
        _ => scope.clone(),
    };
    for (field, target, id) in targets {
        if state.store.get(&scope, target.clone(), id).await?.is_none() {
            return Err(ApiError::new(
                ErrorCode::RelationViolation,
                format!(
                    "`{field}` points at a record of `{}` that does not exist.",
                    target.name
                ),
                "Check that related ids exist.",
            )
            .with_field(field, "not_found", "No such record."));
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
