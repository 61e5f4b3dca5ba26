//! Handing a unit of work to the records engine, which runs it in the store and explains a
//! refused relation (`fathom_engine::write`), and what the edge learns of every write: a
//! [`WriteObserver`] that drops the result cache's answers the write could change before the
//! write is answered, and tells the request's time limit that a write is now in the database's
//! hands (so a slow write is waited for instead of being answered "retry").

use std::sync::Arc;

use fathom_engine::WriteObserver;
use uuid::Uuid;

pub use fathom_engine::write::still_referenced;

use crate::AppState;
use crate::cache::ResultCache;

/// A write the engine refused or the store failed, with the store's kind when nothing
/// explained it better.
pub type WriteFailure = fathom_engine::EngineError;

/// The edge's [`WriteObserver`]: the request's time limit and this node's result cache.
pub(crate) struct EdgeObserver {
    pub cache: Arc<ResultCache>,
}

impl WriteObserver for EdgeObserver {
    fn handing_over(&self) {
        crate::middleware::write_handed_over();
    }

    fn touched(&self, collection: &str) {
        // Before the response leaves: this node's next read sees the write (read your writes).
        // Other collections the write changed (cascades) are reached from these through their
        // relations (`cache::reach`).
        self.cache.invalidate(collection);
    }
}

/// The relation fields (`collection.field`) that keep a record of `collection` from being
/// deleted (see `fathom_engine::Engine::referrers`).
pub(crate) async fn referrers(
    state: &AppState,
    collection: &fathom_schema::Collection,
    id: Uuid,
) -> Vec<String> {
    state.engine.referrers(collection, id).await
}
