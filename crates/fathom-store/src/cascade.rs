//! What a hard delete does to the records that point at it, made explicit so that each change
//! has its outbox event. The database would apply `ON DELETE CASCADE` and `SET NULL` by itself,
//! silently; instead, before removing a record, the store removes (depth first) or clears the
//! references of every record pointing at it with those actions, in the same transaction, and
//! drafts an event for each. The database's own actions then find nothing left to do.
//!
//! The relations come from the applied schema (the one the tables were built from), read in the
//! write's transaction and cached by migration version.

use std::sync::{Arc, Mutex};

use fathom_schema::{Collection, FieldType, OnDelete, Schema};
use sea_query::{DeleteStatement, Expr, ExprTrait, Query, SelectStatement, UpdateStatement};
use uuid::Uuid;

use crate::events::{Draft, EventOperation};
use crate::record::Record;
use crate::statements::select_columns;

/// A relation field whose rows change when its target record is removed.
#[derive(Debug, Clone)]
pub(crate) struct Referrer {
    pub collection: Arc<Collection>,
    pub field: String,
    pub action: OnDelete,
}

/// The relations to `target` with a `Cascade` or `SetNull` action.
pub(crate) fn referrers(schema: &Schema, target: &str) -> Vec<Referrer> {
    let mut out = Vec::new();
    for collection in schema.collections.values() {
        for field in &collection.fields {
            if let FieldType::Relation {
                collection: to,
                on_delete,
            } = &field.kind
                && to == target
                && *on_delete != OnDelete::Restrict
            {
                out.push(Referrer {
                    collection: collection.clone(),
                    field: field.name.clone(),
                    action: *on_delete,
                });
            }
        }
    }
    out
}

/// The applied schema, cached by migration version.
#[derive(Default)]
pub(crate) struct SchemaCache(Mutex<Option<(i64, Arc<Schema>)>>);

impl SchemaCache {
    /// The cached schema if it is the one of `version`.
    pub(crate) fn get(&self, version: i64) -> Option<Arc<Schema>> {
        let cached = self.0.lock().ok()?;
        cached
            .as_ref()
            .filter(|(v, _)| *v == version)
            .map(|(_, s)| s.clone())
    }

    pub(crate) fn put(&self, version: i64, schema: Arc<Schema>) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((version, schema));
        }
    }
}

/// Every row (soft-deleted ones too, which still hold the reference) that points at `id`.
pub(crate) fn pointing_at(referrer: &Referrer, id: Uuid) -> SelectStatement {
    let mut query = Query::select();
    query
        .columns(select_columns(&referrer.collection))
        .from(referrer.collection.name.clone())
        .and_where(Expr::col(referrer.field.clone()).eq(id.hyphenated().to_string()));
    query
}

/// Removes the row `id` of a referring collection, returning it.
pub(crate) fn remove(collection: &Collection, id: Uuid) -> DeleteStatement {
    let mut query = Query::delete();
    query
        .from_table(collection.name.clone())
        .and_where(Expr::col("id").eq(id.hyphenated().to_string()))
        .returning(Query::returning().columns(select_columns(collection)));
    query
}

/// Clears the references to `id` (a new version of each row), returning the rows.
pub(crate) fn clear(referrer: &Referrer, id: Uuid) -> UpdateStatement {
    let mut query = Query::update();
    query
        .table(referrer.collection.name.clone())
        .value(referrer.field.clone(), Option::<String>::None);
    if referrer.collection.timestamps {
        query.value("updated_at", fathom_schema::value::now_timestamp());
    }
    query
        .value("version", Expr::col("version").add(1i64))
        .and_where(Expr::col(referrer.field.clone()).eq(id.hyphenated().to_string()))
        .returning(Query::returning().columns(select_columns(&referrer.collection)));
    query
}

/// The event of a row removed by a cascade.
pub(crate) fn removed(collection: &Collection, record: &Record) -> Draft {
    Draft::new(
        collection,
        EventOperation::Delete,
        record,
        Vec::new(),
        false,
    )
}

/// The event of a row whose reference was cleared.
pub(crate) fn cleared(referrer: &Referrer, record: &Record) -> Draft {
    Draft::new(
        &referrer.collection,
        EventOperation::Update,
        record,
        vec![referrer.field.clone()],
        true,
    )
}

/// How deep cascades may chain (a self-relation's tree, or a cycle of collections).
pub(crate) const MAX_DEPTH: usize = 64;
