//! The outbox pruner: a background task beside the server that removes events past
//! `[events]` retention, one batch (at most 1,000 rows) per statement with a yield between, so a
//! prune never holds the writer for long. It never removes the latest event.

use std::time::Duration;

use fathom_store::{Retention, Store};

/// How long the pruner sleeps once nothing more is due.
const IDLE: Duration = Duration::from_secs(1);

/// Prunes until the task is aborted (when the server stops).
pub async fn run(store: Store, retention: Retention) {
    loop {
        match store.prune_events(retention).await {
            Ok(0) => tokio::time::sleep(IDLE).await,
            Ok(removed) => {
                tracing::debug!(removed, "pruned outbox events past retention");
                tokio::task::yield_now().await;
            }
            Err(e) => {
                tracing::warn!(error = %e.detail, "pruning the outbox failed; retrying");
                tokio::time::sleep(IDLE * 5).await;
            }
        }
    }
}
