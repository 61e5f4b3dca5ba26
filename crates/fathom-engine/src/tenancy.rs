//! Tenant-scoped writes. The store confines every read and write to the caller's tenant by
//! itself (`fathom_store::Scope`); what is left here is the tenant an administrator names for a
//! new record, and the check that a record's relations stay inside its tenant (accounts
//! included: the account must exist and, in a tenant-scoped collection, belong to the record's
//! tenant).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_schema::{ACCOUNTS, Collection, FieldType, Schema, TENANT_FIELD, Value};
use fathom_store::Scope;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::principal::Principal;
use crate::write::missing_targets;

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
) -> Result<TenantSplit<'b>, EngineError> {
    if !(principal.scope() == Scope::AllTenants && collection.tenant_scoped) {
        return Ok((Cow::Borrowed(body), None));
    }
    let Some(named) = body.get(TENANT_FIELD) else {
        return Ok((Cow::Borrowed(body), None));
    };
    let tenant = match named {
        Json::String(t) if is_tenant_id(t) => t.clone(),
        _ => {
            return Err(EngineError::new(
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

impl Engine {
    /// Refuses relation values of a record in `scope` that point at records of tenant-scoped
    /// collections outside that tenant (another tenant's ids answer as if they did not exist).
    /// Relations into shared collections are not restricted. With [`Scope::AllTenants`] the
    /// record's own tenant decides: `record` names the stored record whose tenant to use.
    pub async fn check_relation_tenants(
        &self,
        collection: &Arc<Collection>,
        scope: &Scope,
        record: Option<Uuid>,
        values: &[(String, Value)],
    ) -> Result<(), EngineError> {
        self.check_relation_tenants_in_batch(collection, scope, record, values, &Pending::new())
            .await
    }

    /// [`Engine::check_relation_tenants`] inside a batch, where a relation may point at a
    /// record that an earlier operation creates: such a target must be created in the same
    /// tenant.
    pub async fn check_relation_tenants_in_batch(
        &self,
        collection: &Arc<Collection>,
        scope: &Scope,
        record: Option<Uuid>,
        values: &[(String, Value)],
        pending: &Pending,
    ) -> Result<(), EngineError> {
        let targets = scoped_targets(self.schema(), collection, values);
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
                // A record created earlier in the batch is not stored yet: its tenant is known.
                Some(created_in) => created_in.clone(),
                None => match self.store().get(scope, collection.clone(), id).await? {
                    Some(stored) => Scope::of_member(stored.tenant.as_deref()),
                    // The write itself answers 404.
                    None => return Ok(()),
                },
            },
            _ => scope.clone(),
        };
        self.check_account_targets(collection, &scope, values)
            .await?;
        for (field, target, id) in targets {
            let exists = match pending.get(&id) {
                Some(created_in) => *created_in == scope,
                None => self
                    .store()
                    .get(&scope, target.clone(), id)
                    .await?
                    .is_some(),
            };
            if !exists {
                return Err(missing_targets(&[(field, &target.name)]));
            }
        }
        Ok(())
    }

    /// Refuses account relation values of a record of `collection` written in `scope` that
    /// name no account, or, in a tenant-scoped collection, an account of another tenant
    /// (answered as if it did not exist, so no caller learns which ids other tenants' accounts
    /// have). The foreign key stays the arbiter for an account deleted meanwhile.
    pub async fn check_account_targets(
        &self,
        collection: &Collection,
        scope: &Scope,
        values: &[(String, Value)],
    ) -> Result<(), EngineError> {
        for (name, value) in values {
            let Some(field) = collection.field(name) else {
                continue;
            };
            if !field.kind.points_at_accounts() {
                continue;
            }
            let Value::Text(raw) = value else {
                continue;
            };
            let Ok(id) = Uuid::parse_str(raw) else {
                continue;
            };
            let user = self.store().user_by_id(id).await?;
            let fits = match (&user, scope) {
                (None, _) => false,
                (Some(_), _) if !collection.tenant_scoped => true,
                (Some(user), Scope::Tenant(tenant)) => user.tenant.as_deref() == Some(tenant),
                (Some(user), Scope::NoTenant) => user.tenant.is_none(),
                // The write itself decides the record's tenant; nothing to compare with here.
                (Some(_), Scope::AllTenants) => true,
            };
            if !fits {
                return Err(missing_targets(&[(name.as_str(), ACCOUNTS)]));
            }
        }
        Ok(())
    }
}

/// The relation values of `values` that point into tenant-scoped collections.
fn scoped_targets<'a>(
    schema: &'a Schema,
    collection: &Collection,
    values: &'a [(String, Value)],
) -> Vec<(&'a str, &'a Arc<Collection>, Uuid)> {
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
