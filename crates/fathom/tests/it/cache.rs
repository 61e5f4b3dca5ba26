//! The result cache (`cache = "30s"` on a collection): answers are served from memory, a write
//! is visible at once on its own node, and callers whose rule bindings differ never share an
//! answer. The rules and tenancy matrices also run with the cache on (`access_matrix.rs`,
//! `tenancy.rs`); two nodes on one PostgreSQL database are in `postgres/cache_nodes.rs`.

mod callers;
mod reads;

use crate::helpers::TestApp;
use crate::observability::metrics::scrape;

/// Waits until every node's hub has read the events of the writes made so far, whose arrival
/// drops cached answers a second time (harmless, but it would make counts of hits uncertain):
/// a hub reads the outbox at least once a second and gathers for at most 100 ms.
pub(crate) async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
}

/// This node's `(hits, misses)` of `collection`'s answers.
pub(crate) async fn hits_and_misses(app: &TestApp, collection: &str) -> (f64, f64) {
    let (_, exposition) = scrape(app).await;
    let labels = [("collection", collection)];
    (
        exposition.value_or_zero("fathom_cache_hits_total", &labels),
        exposition.value_or_zero("fathom_cache_misses_total", &labels),
    )
}
