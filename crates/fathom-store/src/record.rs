//! Records as the store returns them, and the unit of work that writes them.

use std::sync::Arc;

use fathom_query::{Filter, SortKey, default_sort};
use fathom_schema::record::value_to_json;
use fathom_schema::{Collection, Value};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::events::Origin;
use crate::idempotency::Idempotency;

/// Whose records an operation may touch. Every record read and write takes one, and the store
/// applies it to tenant-scoped collections in one place (the SQL it builds), so no caller can
/// reach another tenant's rows by forgetting a filter. Collections that are not tenant-scoped
/// ignore it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The records of one tenant; new records belong to it.
    Tenant(String),
    /// A caller in no tenant: no record of a tenant-scoped collection is visible, and none can
    /// be created.
    NoTenant,
    /// Every tenant (administrators, tenant-less service keys, the server itself). A new record
    /// must name its tenant explicitly.
    AllTenants,
}

impl Scope {
    /// The scope of a caller with an optional tenant.
    pub fn of_member(tenant: Option<&str>) -> Self {
        tenant.map_or(Self::NoTenant, |t| Self::Tenant(t.to_owned()))
    }
}

/// One stored record: the system columns and the field values in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
    /// The owning tenant, in tenant-scoped collections only.
    pub tenant: Option<String>,
    /// `None` when the collection has timestamps turned off.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Starts at 1 and grows by one on every change (optimistic locking builds on it).
    pub version: i64,
    pub values: Vec<(String, Value)>,
}

/// What a list reads: which records (filter), in which order (sort), from where (after a keyset
/// position, or at an offset), and how many.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// Always ends with `id`, so the order is total (see `fathom_query::parse_sort`).
    pub sort: Vec<SortKey>,
    /// Sort-key values of the last record already seen (from a cursor).
    pub after: Option<Vec<Value>>,
    pub limit: u32,
    pub offset: u64,
}

/// Which records a list of a soft-delete collection reads: the live ones (what every caller
/// sees), the deleted ones only, or both (administrators' views of the bin).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deleted {
    #[default]
    Hidden,
    Only,
    Included,
}

impl ListQuery {
    /// The first `limit` records in id (creation) order.
    pub fn first(limit: u32) -> Self {
        Self {
            filter: None,
            sort: default_sort(),
            after: None,
            limit,
            offset: 0,
        }
    }
}

impl Record {
    /// The value of a column by name, system columns included.
    pub fn column(&self, name: &str) -> Value {
        let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
        match name {
            "id" => Value::Text(self.id.hyphenated().to_string()),
            "version" => Value::Integer(self.version),
            "created_at" => text(&self.created_at),
            "updated_at" => text(&self.updated_at),
            "tenant" => text(&self.tenant),
            _ => self
                .values
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Value::Null, |(_, v)| v.clone()),
        }
    }

    /// The record in its API JSON form: `id`, `created_at`, `updated_at` (with timestamps),
    /// `version`, `tenant` (tenant-scoped collections), then every field in schema order, hidden
    /// ones included (callers strip what their reader may not see).
    pub fn to_json(&self) -> Map<String, Json> {
        let mut object = Map::with_capacity(self.values.len() + 5);
        object.insert("id".into(), Json::String(self.id.hyphenated().to_string()));
        if let Some(created_at) = &self.created_at {
            object.insert("created_at".into(), Json::String(created_at.clone()));
        }
        if let Some(updated_at) = &self.updated_at {
            object.insert("updated_at".into(), Json::String(updated_at.clone()));
        }
        object.insert("version".into(), Json::from(self.version));
        if let Some(tenant) = &self.tenant {
            object.insert("tenant".into(), Json::String(tenant.clone()));
        }
        for (name, value) in &self.values {
            object.insert(name.clone(), value_to_json(value));
        }
        object
    }

    /// The values of the sort keys, as a cursor carries them.
    pub fn sort_values(&self, keys: &[SortKey]) -> Vec<Value> {
        keys.iter().map(|k| self.column(&k.path.column)).collect()
    }
}

/// One write. Values are already validated against the collection.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// `tenant` names the new record's tenant explicitly; only an [`Scope::AllTenants`] unit of
    /// work may (and, for a tenant-scoped collection, must) do so. `id` is the client's choice
    /// (already checked to be a UUID); `None` lets the store assign a UUIDv7. An id that exists
    /// already fails as a unique violation of `id`.
    Create {
        id: Option<Uuid>,
        collection: Arc<Collection>,
        values: Vec<(String, Value)>,
        tenant: Option<String>,
    },
    /// `guard`, when given, is the update rule: it must hold for the stored row (otherwise the
    /// record counts as not found) and for the row as changed, checked in the same transaction
    /// (otherwise the change is rolled back with [`StoreErrorKind::RuleViolation`]).
    ///
    /// [`StoreErrorKind::RuleViolation`]: crate::StoreErrorKind::RuleViolation
    Update {
        collection: Arc<Collection>,
        id: Uuid,
        values: Vec<(String, Value)>,
        guard: Option<Filter>,
        /// `If-Match`: the version the record must have. Checked by the write's own statement
        /// (`AND version = n`), so two writers expecting the same version cannot both succeed;
        /// a visible record at another version fails with
        /// [`StoreErrorKind::PreconditionFailed`](crate::StoreErrorKind::PreconditionFailed).
        expected_version: Option<i64>,
    },
    /// Soft when the collection says so, otherwise the row is removed. `guard`, when given,
    /// must hold for the stored row; otherwise the record counts as not found.
    Delete {
        collection: Arc<Collection>,
        id: Uuid,
        guard: Option<Filter>,
        /// As for [`WriteOp::Update`].
        expected_version: Option<i64>,
    },
    /// Brings back a soft-deleted record (`deleted_at` cleared, version bumped): its result is
    /// [`WriteResult::Updated`] and its event a `restore`. `guard` must hold for the deleted
    /// row; a record that is not soft-deleted (or not in scope) counts as not found. A unique
    /// value taken meanwhile by a live record fails as a unique violation.
    Restore {
        collection: Arc<Collection>,
        id: Uuid,
        guard: Option<Filter>,
        expected_version: Option<i64>,
    },
    /// Removes a soft-deleted record for good (`fathom purge`), with what its relations'
    /// `on_delete` asks of the records pointing at it, as a hard delete does; its event is a
    /// `delete` without the record. A record that is not soft-deleted counts as not found.
    Purge {
        collection: Arc<Collection>,
        id: Uuid,
    },
}

impl WriteOp {
    /// The collection the operation writes to.
    pub fn collection(&self) -> &Arc<Collection> {
        match self {
            Self::Create { collection, .. }
            | Self::Update { collection, .. }
            | Self::Delete { collection, .. }
            | Self::Restore { collection, .. }
            | Self::Purge { collection, .. } => collection,
        }
    }
}

/// The outcome of one [`WriteOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    Created(Record),
    Updated(Record),
    Deleted { id: Uuid },
}

/// Writes that commit together or not at all, all within one [`Scope`]. Every changed record
/// appends its outbox event, carrying `origin`, to the same transaction; later capabilities
/// (audit entries, idempotency records) join it by adding fields here.
#[derive(Debug, Clone)]
pub struct UnitOfWork {
    pub scope: Scope,
    pub ops: Vec<WriteOp>,
    /// Who makes the change (the server itself unless [`UnitOfWork::with_origin`] says otherwise).
    pub origin: Origin,
    /// The idempotency record the unit stores with its writes (`Idempotency-Key`), if any.
    pub idempotency: Option<Idempotency>,
}

impl UnitOfWork {
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            ops: vec![],
            origin: Origin::system(),
            idempotency: None,
        }
    }

    pub fn single(scope: Scope, op: WriteOp) -> Self {
        Self {
            scope,
            ops: vec![op],
            origin: Origin::system(),
            idempotency: None,
        }
    }

    /// The same work, made by `origin`.
    #[must_use]
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// The same work, storing `idempotency` (with the response it renders) in its transaction.
    #[must_use]
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }
}

/// The collection and id of the row an operation removes for good (a hard delete, or a purge),
/// whose referrers the store must handle first.
pub(crate) fn removes_row(op: &WriteOp) -> Option<(&Arc<Collection>, &Uuid)> {
    match op {
        WriteOp::Delete { collection, id, .. } if !collection.soft_delete => Some((collection, id)),
        WriteOp::Purge { collection, id } => Some((collection, id)),
        _ => None,
    }
}
