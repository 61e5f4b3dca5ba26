//! The query-shape flusher: a background task beside the server that writes the store's shape
//! book to `_fathom_query_shapes` every `architect.flush_interval_secs`, off the request path,
//! and once more when the server stops (see docs/ARCHITECT.md).

use std::time::Duration;

use fathom_store::Store;

/// Flushes every `interval` until the task is aborted; does nothing when recording is off.
pub async fn every(store: Store, interval: Duration) {
    if !store.shape_book().enabled() {
        return;
    }
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate, and there is nothing to flush yet.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        once(&store).await;
    }
}

/// One flush; a failure is logged, and the figures stay in the book for the next one.
pub async fn once(store: &Store) {
    match store.flush_shapes().await {
        Ok(0) => {}
        Ok(shapes) => tracing::debug!(shapes, "flushed query shapes"),
        Err(e) => {
            tracing::warn!(error = %e.detail, "flushing the query shapes failed; keeping them for the next flush")
        }
    }
}
