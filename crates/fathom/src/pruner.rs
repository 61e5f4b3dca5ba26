//! The pruners: background tasks beside the server. The outbox pruner removes events past
//! `[events]` retention, one batch (at most 1,000 rows) per statement with a yield between, so a
//! prune never holds the writer for long; it never removes the latest event, nor one that a
//! consumer has not delivered yet: the cursors of the enabled webhook endpoints and of the
//! configured broker sinks hold every event after their position (a receiver or broker that is
//! down keeps its backlog however long it lasts; a disabled endpoint holds nothing). The idempotency
//! pruner removes keys past `idempotency.ttl_secs` once a minute (expired keys are never
//! replayed even before then: lookups and the key's upsert compare its age). The audit pruner
//! removes audit entries past `[audit]` retention, each batch leaving a checkpoint entry.

use std::time::Duration;

use std::sync::Arc;

use fathom_store::{Retention, Store};
use fathom_webhooks::Webhooks;

/// How long the pruner sleeps once nothing more is due.
const IDLE: Duration = Duration::from_secs(1);

/// The consumers whose cursors hold events: the configured broker sinks (their cursor names)
/// and the enabled webhook endpoints (read again before every batch).
pub struct Holders {
    pub sinks: Vec<String>,
    pub webhooks: Arc<Webhooks>,
}

impl Holders {
    async fn names(&self) -> Result<Vec<String>, String> {
        let mut names = self
            .webhooks
            .holding_cursors()
            .await
            .map_err(|e| e.to_string())?;
        names.extend(self.sinks.iter().cloned());
        Ok(names)
    }
}

/// Prunes until the task is aborted (when the server stops). When the holding cursors cannot
/// be read, nothing is pruned (it would risk events a consumer still needs).
pub async fn run(store: Store, retention: Retention, holders: Holders) {
    loop {
        let held_by = match holders.names().await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(error = %e, "reading the delivery cursors failed; not pruning the outbox");
                tokio::time::sleep(IDLE * 5).await;
                continue;
            }
        };
        match store.prune_events(retention, held_by).await {
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

/// Prunes the audit log past `[audit]` retention until the task is aborted; returns at once
/// when the log keeps everything. Each step removes a batch and leaves its checkpoint entry.
pub async fn prune_audit(store: Store, retention: fathom_store::AuditRetention) {
    if retention.keeps_everything() {
        return;
    }
    loop {
        match store.prune_audit(retention).await {
            Ok(0) => tokio::time::sleep(IDLE).await,
            Ok(removed) => {
                tracing::info!(
                    removed,
                    "pruned audit entries past retention, leaving a checkpoint"
                );
                tokio::task::yield_now().await;
            }
            Err(e) => {
                tracing::warn!(error = %e.detail, "pruning the audit log failed; retrying");
                tokio::time::sleep(IDLE * 5).await;
            }
        }
    }
}

/// How often expired idempotency keys are removed.
const IDEMPOTENCY_EVERY: Duration = Duration::from_secs(60);

/// Removes expired idempotency keys until the task is aborted (when the server stops).
pub async fn forget_idempotency_keys(store: Store, ttl: Duration) {
    loop {
        match store.prune_idempotency(ttl).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "pruned expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e.detail, "pruning idempotency keys failed"),
        }
        tokio::time::sleep(IDEMPOTENCY_EVERY).await;
    }
}

/// Runs `fathom purge` every `purge.every_minutes` while `purge.older_than_days` is set.
pub async fn purge_on_schedule(store: Store, purge: crate::config::PurgeConfig) {
    if purge.older_than_days == 0 {
        return;
    }
    let age = Duration::from_secs(purge.older_than_days.saturating_mul(86_400));
    loop {
        match crate::commands::purge::purge_all(&store, None, age).await {
            Ok(report) => {
                for (collection, purged) in report.iter().filter(|(_, p)| p.removed > 0) {
                    tracing::info!(
                        collection,
                        removed = purged.removed,
                        kept = purged.kept,
                        "purged soft-deleted records"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "the scheduled purge failed"),
        }
        tokio::time::sleep(Duration::from_secs(purge.every_minutes.saturating_mul(60))).await;
    }
}
