//! An embedding application's after-commit hooks in `/metrics`, read at scrape time from the
//! figures each hook's task keeps ([`HookStats`]): events handled and failed attempts per hook,
//! and, for the hooks whose lease this node holds, their outbox lag beside the other consumers'
//! (`fathom_outbox_lag_events{consumer="hook:<name>"}`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

/// One after-commit hook's figures, kept by its task (`fathom::embed::after_commit`).
#[derive(Default, Debug)]
pub struct HookStats {
    /// Events handed to the hook and handled.
    pub handled: AtomicU64,
    /// Failed attempts (errors and panics).
    pub failures: AtomicU64,
    /// The cursor's position as this node last knew it.
    pub position: AtomicU64,
    /// Whether this node holds the hook's lease (runs it) now.
    pub running: AtomicBool,
}

impl HookStats {
    /// Records the cursor's position `position`.
    pub fn note_position(&self, position: i64) {
        self.position
            .store(u64::try_from(position).unwrap_or(0), Ordering::Relaxed);
    }
}

/// The hooks of this node by name, set once the server has built them
/// ([`super::Metrics::set_hooks`]).
pub(crate) type HooksSlot = Mutex<Vec<(String, Arc<HookStats>)>>;

fn hooks(slot: &HooksSlot) -> Vec<(String, Arc<HookStats>)> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// The lag of every hook this node runs, behind `latest`, as `("hook:<name>", lag)`.
pub(super) fn hook_lags(slot: &HooksSlot, latest: i64) -> Vec<(String, i64)> {
    hooks(slot)
        .into_iter()
        .filter(|(_, stats)| stats.running.load(Ordering::Relaxed))
        .map(|(name, stats)| {
            let position = i64::try_from(stats.position.load(Ordering::Relaxed)).unwrap_or(0);
            (
                format!("hook:{name}"),
                latest.saturating_sub(position).max(0),
            )
        })
        .collect()
}

/// `fathom_after_commit_events_total{hook, outcome}`: handled events and failed attempts.
pub(super) fn encode_hooks(encoder: &mut DescriptorEncoder, slot: &HooksSlot) -> std::fmt::Result {
    let hooks = hooks(slot);
    if hooks.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(
        "fathom_after_commit_events",
        "After-commit hooks on this node: events handled, and failed attempts (errors and panics, each retried)",
        None,
        MetricType::Counter,
    )?;
    for (name, stats) in &hooks {
        for (outcome, count) in [
            ("handled", stats.handled.load(Ordering::Relaxed)),
            ("failed", stats.failures.load(Ordering::Relaxed)),
        ] {
            ConstCounter::new(count)
                .encode(family.encode_family(&[("hook", name.as_str()), ("outcome", outcome)])?)?;
        }
    }
    Ok(())
}
