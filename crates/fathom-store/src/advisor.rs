//! What the index advisor (`fathom-architect`, docs/ARCHITECT.md) asks of the database: the
//! plan of a read synthesized from a query shape, the same plan with one more index (built in
//! a scratch copy of the schema on SQLite, hypothetical with `hypopg` or built in a scratch
//! copy on PostgreSQL), how often each index was scanned, and the SQL that creates an index.
//! Nothing here changes the live database: the architect proposes, the operator migrates.

use std::sync::Arc;

use fathom_query::Filter;
use fathom_schema::{Collection, Index};
use serde::Serialize;

use crate::error::StoreError;
use crate::record::{ListQuery, Scope};
use crate::{Backend, Store, sealing};

/// A read to plan: a page of a list, or a count.
#[derive(Debug, Clone)]
pub enum AdvisedRead {
    List(ListQuery),
    Count(Option<Filter>),
}

/// One reading of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanReading {
    /// The plan as the database prints it, one line per step.
    pub lines: Vec<String>,
    /// Whether the plan reads the collection's whole table (a sequential scan, or SQLite's
    /// `SCAN <table>` without an index).
    pub full_scan: bool,
    /// Whether the plan sorts rows itself (a `Sort` node, or SQLite's temporary B-tree).
    pub temp_sort: bool,
    /// The indexes of the collection's table the plan reads, by schema name.
    pub indexes: Vec<String>,
    /// The estimated cost: PostgreSQL's planner cost of the whole plan; on SQLite, which
    /// prints no cost, the rows the plan is estimated to visit (from the sample's statistics),
    /// plus `n·log2(n)` for a temporary sort of `n` rows.
    pub cost: f64,
}

impl PlanReading {
    /// Whether the plan reads rows in the order asked and without a whole-table scan.
    pub fn is_served(&self) -> bool {
        !self.full_scan && !self.temp_sort
    }
}

/// A candidate index checked against the plans: the plan without it and with it, read the
/// same way (on SQLite both in the scratch copy, so the statistics agree).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// How the candidate was built: `sqlite-scratch`, `hypopg`, or `postgres-scratch`.
    pub method: String,
    /// Records of the collection (every tenant, soft-deleted ones included).
    pub rows: u64,
    pub before: PlanReading,
    pub after: PlanReading,
}

impl Verification {
    /// Whether the candidate turns a scan or a sort into a read of the candidate index.
    pub fn helps(&self, candidate: &Index) -> bool {
        !self.before.is_served()
            && self.after.is_served()
            && self.after.indexes.iter().any(|i| i == &candidate.name)
    }
}

/// How often the database has read an index since its statistics were reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexScans {
    /// The index's schema name (`idx_tasks__team`).
    pub name: String,
    pub scans: u64,
}

impl Store {
    /// The plan the database would run for `read` now.
    pub async fn read_plan(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        read: AdvisedRead,
    ) -> Result<PlanReading, StoreError> {
        let read = self.blinded(read)?;
        dispatch!(self, read_plan(scope.clone(), collection, read))
    }

    /// Plans `read` without and with `candidate` (an index of `collection` as the schema would
    /// declare it, tenant column included), without changing the live database.
    pub async fn verify_index(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        read: AdvisedRead,
        candidate: Index,
    ) -> Result<Verification, StoreError> {
        let read = self.blinded(read)?;
        dispatch!(
            self,
            verify_index(scope.clone(), collection, read, candidate)
        )
    }

    /// How often each index of `collection` was scanned since the statistics were reset, or
    /// `None` where the database keeps no such count (SQLite).
    pub async fn index_scans(
        &self,
        collection: Arc<Collection>,
    ) -> Result<Option<Vec<IndexScans>>, StoreError> {
        dispatch!(self, index_scans(collection))
    }

    /// The statement a migration runs to create `index` on this database (as `fathom migrate
    /// plan` renders it for a table with no rows yet).
    pub fn index_sql(&self, collection: &Collection, index: &Index) -> String {
        match &*self.backend {
            Backend::Sqlite(_) => crate::sqlite::advisor::create_index(collection, index),
            Backend::Postgres(_) => crate::postgres::advisor::create_index(collection, index),
        }
    }

    /// The statement a migration runs to drop `index` on this database.
    pub fn drop_index_sql(&self, index: &Index) -> String {
        match &*self.backend {
            Backend::Sqlite(_) => crate::sqlite::advisor::drop_index(index),
            Backend::Postgres(_) => crate::postgres::advisor::drop_index(index),
        }
    }

    /// The keys an index of the schema has on this database, in order, as the schema file
    /// writes them (`-priority` for a field kept descending): on PostgreSQL a non-unique index
    /// also ends with `id` (see `postgres/ddl.rs`), so a declared `(team, priority)` already
    /// serves a sort on `priority, id`.
    pub fn index_keys(&self, index: &Index) -> Vec<String> {
        let mut keys = index.declared_keys();
        if matches!(&*self.backend, Backend::Postgres(_))
            && !index.unique
            && keys.last().is_none_or(|f| f != "id")
        {
            keys.push("id".to_owned());
        }
        keys
    }

    /// Blinds encrypted-field comparisons, as the store does for the reads it runs.
    fn blinded(&self, read: AdvisedRead) -> Result<AdvisedRead, StoreError> {
        Ok(match read {
            AdvisedRead::List(mut query) => {
                sealing::blind_list(self.key_ring(), &mut query)?;
                AdvisedRead::List(query)
            }
            AdvisedRead::Count(mut filter) => {
                if let Some(filter) = &mut filter {
                    sealing::blind_filter(self.key_ring(), filter)?;
                }
                AdvisedRead::Count(filter)
            }
        })
    }
}

/// The rows a sort of `n` rows is charged: `n·log2(n)`.
pub(crate) fn sort_cost(n: f64) -> f64 {
    if n <= 1.0 { n } else { n * n.log2() }
}
