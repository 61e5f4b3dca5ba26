//! After-commit hooks: application code run for every committed change, driven by the outbox
//! (`_fathom_events`), each hook under a name with a persisted position (the store's leased
//! cursor `hook:<name>`, as the broker sinks hold theirs).
//!
//! Guarantees: in sequence order, at least once (a crash between a hook's success and the
//! cursor's advance hands the same event to the hook again after the restart, so hooks must be
//! idempotent; nothing is skipped), once per cluster (only the lease's holder runs a hook), a
//! failure (`Err`) or a panic is retried with [`fathom_core::outbound::Backoff`] without end and
//! without moving on, and every hook runs in its own task, so one that keeps failing never holds
//! up another. A new hook starts at the outbox's latest event when the server that first knows it
//! starts: it sees what is committed from then on.
//!
//! `worker.rs` runs one hook; `context.rs` is what a hook may use ([`HookContext`]).

mod context;
mod worker;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use context::HookContext;
pub use fathom_store::Event as CommittedEvent;
pub use worker::HookStats;
pub(crate) use worker::{Running, Shared, cursor_name, init_cursors, start};

/// Application code run once per committed change (at least once: it must be idempotent).
#[async_trait]
pub trait AfterCommit: Send + Sync {
    /// Handles one event. `Err` (or a panic) has the same event handed again after a backoff.
    async fn handle(&self, event: &CommittedEvent, ctx: &HookContext) -> Result<(), HookFailure>;
}

/// Why a hook could not handle an event (logged; the event is retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    pub message: String,
}

impl HookFailure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for HookFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HookFailure {}

/// One registered hook: its name (its cursor's), the collections it wants (all when `None`) and
/// its code.
#[derive(Clone)]
pub struct Registered {
    pub name: String,
    pub collections: Option<BTreeSet<String>>,
    pub hook: Arc<dyn AfterCommit>,
}

impl Registered {
    /// Whether the hook is handed `event` (the others are passed over, the position still moving).
    pub fn takes(&self, event: &CommittedEvent) -> bool {
        self.collections
            .as_ref()
            .is_none_or(|wanted| wanted.contains(&event.collection))
    }
}

/// Whether `name` can name a hook (and its cursor): 1 to 64 ASCII letters, digits, `-`, `_`, `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
