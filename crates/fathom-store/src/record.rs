//! Records as the store returns them, and the unit of work that writes them.

use std::sync::Arc;

use fathom_query::{Filter, SortKey, default_sort};
use fathom_schema::{Collection, Value};
use uuid::Uuid;

/// One stored record: the system columns and the field values in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
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
            _ => self
                .values
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Value::Null, |(_, v)| v.clone()),
        }
    }

    /// The values of the sort keys, as a cursor carries them.
    pub fn sort_values(&self, keys: &[SortKey]) -> Vec<Value> {
        keys.iter().map(|k| self.column(&k.path.column)).collect()
    }
}

/// One write. Values are already validated against the collection.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Create {
        collection: Arc<Collection>,
        values: Vec<(String, Value)>,
    },
    /// `guard`, when given, must hold for the stored row (an access rule); otherwise the record
    /// counts as not found.
    Update {
        collection: Arc<Collection>,
        id: Uuid,
        values: Vec<(String, Value)>,
        guard: Option<Filter>,
    },
    /// Soft when the collection says so, otherwise the row is removed. `guard` as for updates.
    Delete {
        collection: Arc<Collection>,
        id: Uuid,
        guard: Option<Filter>,
    },
}

/// The outcome of one [`WriteOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    Created(Record),
    Updated(Record),
    Deleted { id: Uuid },
}

/// Writes that commit together or not at all. Later capabilities append to the same transaction
/// (outbox events, audit entries, idempotency records) by adding fields here.
#[derive(Debug, Clone, Default)]
pub struct UnitOfWork {
    pub ops: Vec<WriteOp>,
}

impl UnitOfWork {
    pub fn single(op: WriteOp) -> Self {
        Self { ops: vec![op] }
    }
}
