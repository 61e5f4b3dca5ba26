//! Records as the store returns them, and the unit of work that writes them.

use std::sync::Arc;

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

/// Offset pagination. The cursor-based kind arrives with the query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

/// One write. Values are already validated against the collection.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Create {
        collection: Arc<Collection>,
        values: Vec<(String, Value)>,
    },
    Update {
        collection: Arc<Collection>,
        id: Uuid,
        values: Vec<(String, Value)>,
    },
    /// Soft when the collection says so, otherwise the row is removed.
    Delete {
        collection: Arc<Collection>,
        id: Uuid,
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
