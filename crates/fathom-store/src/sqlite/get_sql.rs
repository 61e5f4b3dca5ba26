//! The SQL of a get by id, rendered once per collection and kind of scope on each connection's
//! thread instead of on every read: building the same statement with sea-query for every get
//! was about 5 % of a record read's CPU. The values are bound from
//! [`statements::by_id_values`], which a test pins to what the statement binds.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use fathom_schema::Collection;
use sea_query::SqliteQueryBuilder;
use uuid::Uuid;

use crate::record::Scope;
use crate::statements;

/// Entries one thread keeps before it starts over: one per collection and kind of scope is the
/// steady state; only a server that keeps loading new schemas reaches this.
const MAX_ENTRIES: usize = 256;

/// Which of the scope's conditions the statement carries (a tenant's name is a bound value).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ScopeKind {
    Tenant,
    NoTenant,
    AllTenants,
}

/// A collection by identity: the entry holds the `Arc`, so the address cannot be reused by
/// another collection while the entry exists.
type Key = (*const Collection, ScopeKind);

/// The collection an entry was rendered for (kept alive), and the SQL.
type Rendered = (Arc<Collection>, Arc<str>);

thread_local! {
    static RENDERED: RefCell<HashMap<Key, Rendered>> = RefCell::new(HashMap::new());
}

/// The SQL of `statements::select_by_id(collection, scope, _)`.
pub(super) fn select_by_id(collection: &Arc<Collection>, scope: &Scope) -> Arc<str> {
    let kind = match scope {
        Scope::Tenant(_) => ScopeKind::Tenant,
        Scope::NoTenant => ScopeKind::NoTenant,
        Scope::AllTenants => ScopeKind::AllTenants,
    };
    let key = (Arc::as_ptr(collection), kind);
    RENDERED.with_borrow_mut(|rendered| {
        if let Some((_, sql)) = rendered.get(&key) {
            return sql.clone();
        }
        if rendered.len() >= MAX_ENTRIES {
            rendered.clear();
        }
        let (sql, _) =
            statements::select_by_id(collection, scope, Uuid::nil()).build(SqliteQueryBuilder);
        let sql: Arc<str> = sql.into();
        rendered.insert(key, (collection.clone(), sql.clone()));
        sql
    })
}
