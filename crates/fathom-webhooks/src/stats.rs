//! What this node's webhook delivery has done and where it stands, read by the metrics at
//! scrape time: attempts counted by outcome (atomic counters, no lock on the delivery path),
//! the breaker of each endpoint this node has called, and the cursor position of each endpoint
//! this node delivers for now (on PostgreSQL only the lease holder delivers, so another node
//! knows no position for that endpoint and reports none).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use fathom_core::outbound::BreakerState;

use crate::Webhooks;

/// Attempts by outcome, as the attempt log names them.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
    dead: AtomicU64,
    gone: AtomicU64,
}

impl Deliveries {
    /// Counts one attempt with the verdict the worker logged (`delivered`, `failed`, `dead`,
    /// `gone`).
    pub(crate) fn count(&self, verdict: &str) {
        let counter = match verdict {
            "delivered" => &self.delivered,
            "dead" => &self.dead,
            "gone" => &self.gone,
            _ => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> [(&'static str, u64); 4] {
        [
            ("delivered", self.delivered.load(Ordering::Relaxed)),
            ("failed", self.failed.load(Ordering::Relaxed)),
            ("dead_lettered", self.dead.load(Ordering::Relaxed)),
            ("gone", self.gone.load(Ordering::Relaxed)),
        ]
    }
}

/// The cursor positions of the endpoints this node delivers for, by endpoint id.
pub(crate) type Positions = Mutex<HashMap<String, i64>>;

/// Forgets an endpoint's position when its worker stops delivering (lease lost, endpoint
/// disabled, or the worker task aborted), so that only positions this node keeps moving are
/// reported.
pub(crate) struct Tracked<'a> {
    hooks: &'a Webhooks,
    id: String,
}

impl<'a> Tracked<'a> {
    pub(crate) fn start(hooks: &'a Webhooks, id: &str, position: i64) -> Self {
        hooks.set_position(id, position);
        Self {
            hooks,
            id: id.to_owned(),
        }
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.hooks
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl Webhooks {
    /// Attempts made by this node since it started, by outcome: `delivered`, `failed` (to be
    /// retried), `dead_lettered` (retries spent), `gone` (`410`: the endpoint was disabled).
    /// SSRF-guard refusals are failed attempts.
    pub fn delivery_counts(&self) -> [(&'static str, u64); 4] {
        self.deliveries.snapshot()
    }

    /// The breaker of every endpoint this node has called, by endpoint id (sorted).
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        let now = Instant::now();
        let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut states: Vec<(String, BreakerState)> = breakers
            .iter()
            .map(|(id, b)| (id.clone(), b.state(now)))
            .collect();
        states.sort_by(|a, b| a.0.cmp(&b.0));
        states
    }

    /// The cursor position of every endpoint this node delivers for now, by endpoint id
    /// (sorted).
    pub fn positions(&self) -> Vec<(String, i64)> {
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<(String, i64)> = positions.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        all
    }

    /// Forgets the breakers of endpoints that no longer exist (`rows` are all the endpoints),
    /// so that a deleted endpoint leaves the metrics instead of lingering until a restart.
    pub(crate) fn forget_breakers(&self, rows: &[fathom_store::WebhookRow]) {
        let exists = |id: &String| rows.iter().any(|r| &r.id == id);
        self.breakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| exists(id));
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| exists(id));
    }

    pub(crate) fn set_position(&self, id: &str, position: i64) {
        self.positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), position);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_counted_under_their_outcome() {
        let d = Deliveries::default();
        for v in ["delivered", "delivered", "failed", "dead", "gone"] {
            d.count(v);
        }
        assert_eq!(
            d.snapshot(),
            [
                ("delivered", 2),
                ("failed", 1),
                ("dead_lettered", 1),
                ("gone", 1)
            ]
        );
    }
}
