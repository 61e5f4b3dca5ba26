//! Breakers seen from any node: the node delivering for an endpoint (its lease holder) writes
//! the breaker's state to the store whenever it changes (state or failure count), and the admin
//! view of a node that does not deliver for the endpoint reads that instead of its own memory.
//! A steady, healthy endpoint costs no write.

use std::sync::PoisonError;
use std::time::Instant;

use fathom_core::outbound::BreakerState;
use fathom_store::BreakerRow;

use crate::{Webhooks, now_ms};

/// What was last written for an endpoint: state, failures.
pub(crate) type Written = (BreakerState, u32);

impl Webhooks {
    /// Writes the endpoint's breaker when it changed since this node last wrote it. A failed
    /// write is logged and tried again at the next change (delivery goes on).
    pub(crate) async fn persist_breaker(&self, id: &str) {
        let now = Instant::now();
        let (state, failures, retry_at) = self.with_breaker(id, |b| {
            (b.state(now), b.consecutive_failures(), b.retry_at(now))
        });
        let current = (state, failures);
        {
            let written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
            let last = written.get(id).copied();
            if last == Some(current) || (last.is_none() && current == (BreakerState::Closed, 0)) {
                return;
            }
        }
        let wall = now_ms();
        let row = BreakerRow {
            endpoint: id.to_owned(),
            state: state.as_str().to_owned(),
            failures: i64::from(failures),
            retry_at_ms: retry_at.map(|t| {
                wall + i64::try_from(t.saturating_duration_since(now).as_millis()).unwrap_or(0)
            }),
            holder: self.holder.clone(),
            at_ms: wall,
        };
        match self.store.webhook_breaker_save(row).await {
            Ok(()) => {
                self.written
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_owned(), current);
            }
            Err(e) => {
                tracing::warn!(endpoint = %id, error = %e.detail, "persisting the webhook breaker failed")
            }
        }
    }

    /// The breaker as the admin API shows it: this node's own when it delivers for the endpoint
    /// (or no node does now), otherwise what the delivering node persisted (an open breaker
    /// whose cool-down has passed reads half-open).
    pub(crate) async fn breaker_view(
        &self,
        id: &str,
        holder: Option<&str>,
    ) -> Result<(BreakerState, u32), fathom_store::StoreError> {
        if holder.is_none_or(|h| h == self.holder) {
            return Ok(self.breaker(id));
        }
        let Some(row) = self.store.webhook_breaker(id).await? else {
            return Ok((BreakerState::Closed, 0));
        };
        let state = match row.state.as_str() {
            "open" if row.retry_at_ms.is_some_and(|t| t <= now_ms()) => BreakerState::HalfOpen,
            "open" => BreakerState::Open,
            "half_open" => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        };
        Ok((state, u32::try_from(row.failures).unwrap_or(u32::MAX)))
    }
}
