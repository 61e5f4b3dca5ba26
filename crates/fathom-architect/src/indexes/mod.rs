//! Index advice, verified (docs/ARCHITECT.md, "Indexes"): every recorded shape that is
//! frequent or slow is rebuilt into a runnable read (`synth.rs`) and its plan read; when the
//! plan scans the table or sorts, the composite index that serves the shape (`candidate.rs`)
//! is checked against the plans with and without it (`verify.rs`, through the store's
//! scratch copies or hypothetical indexes) and advised only when they confirm it. An index an
//! existing one already serves is never proposed. The collections' indexes are judged too
//! (`hygiene.rs`: redundant, unused, relations without an index).

mod candidate;
mod hygiene;
mod patch;
mod synth;
mod verify;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fathom_schema::Schema;
use fathom_store::shapes::{ShapeKind, ShapeReport};
use fathom_store::{Store, StoreError};

pub use candidate::{Candidate, candidate, served_by};
pub use hygiene::{redundant, unindexed_relations};
pub use patch::{add_index, fields_array};
pub use synth::fill;

use crate::Finding;

/// Which shapes are worth an index: called at least `min_calls` times, or with a p95 of at
/// least `slow_p95_micros`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    pub min_calls: u64,
    pub slow_p95_micros: u64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self {
            min_calls: 50,
            slow_p95_micros: 5_000,
        }
    }
}

impl IndexOptions {
    fn wants(&self, report: &ShapeReport) -> bool {
        report.stats.calls >= self.min_calls || report.stats.p95_micros >= self.slow_p95_micros
    }
}

/// The index findings for the recorded `reports` against `schema` (the served schema, which
/// the database has been migrated to): missing indexes, verified, then redundant, unused
/// and relation checks per collection. Changes nothing.
pub async fn advise_indexes(
    store: &Store,
    schema: &Schema,
    reports: &[ShapeReport],
    options: &IndexOptions,
) -> Result<Vec<Finding>, StoreError> {
    let mut findings = Vec::new();
    let mut used: HashMap<String, HashSet<String>> = HashMap::new();
    let mut observed: HashSet<String> = HashSet::new();
    let mut proposed: HashSet<String> = HashSet::new();
    // The most called first, so that of two shapes wanting one index the busier one is shown.
    let mut ordered: Vec<&ShapeReport> = reports.iter().collect();
    ordered.sort_by_key(|r| std::cmp::Reverse(r.stats.calls));
    for report in ordered {
        let shape = &report.shape;
        let Some(collection) = schema.collection(&shape.collection) else {
            continue;
        };
        observed.insert(collection.name.clone());
        if shape.kind == ShapeKind::Get {
            continue;
        }
        let Some((scope, read)) = synth::synthesize(store, schema, collection, shape).await? else {
            tracing::debug!(collection = %collection.name, filter = %shape.filter, "a recorded shape no longer fits the schema; skipped");
            continue;
        };
        let now = store
            .read_plan(&scope, Arc::clone(collection), read.clone())
            .await?;
        used.entry(collection.name.clone())
            .or_default()
            .extend(now.indexes.iter().cloned());
        if now.is_served() || !options.wants(report) {
            continue;
        }
        let Some(candidate) = candidate(collection, shape) else {
            continue;
        };
        if proposed.contains(&candidate.effective.name) {
            continue;
        }
        let existing = collection.effective_indexes();
        if served_by(&existing, &candidate.effective, |i| store.index_keys(i)).is_some() {
            continue;
        }
        let verification = store
            .verify_index(
                &scope,
                Arc::clone(collection),
                read,
                candidate.effective.clone(),
            )
            .await?;
        if verify::confirms(&verification, &candidate) {
            proposed.insert(candidate.effective.name.clone());
            findings.push(verify::finding(
                store,
                collection,
                report,
                &candidate,
                &verification,
            ));
        }
    }
    let none = HashSet::new();
    for collection in schema.collections.values() {
        let scans = store.index_scans(Arc::clone(collection)).await?;
        findings.extend(hygiene::findings(
            store,
            collection,
            used.get(&collection.name).unwrap_or(&none),
            scans.as_deref(),
            observed.contains(&collection.name),
        ));
    }
    Ok(findings)
}
