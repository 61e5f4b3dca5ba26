//! One after-commit hook's task: hold the lease on the hook's cursor (`hook:<name>`), read the
//! outbox after its position, hand every event the hook takes to it in sequence order, and
//! advance the cursor after each; stand by while another node holds the lease. An `Err` or a
//! panic (caught, `FutureExt::catch_unwind`) has the same event handed again after a jittered
//! [`Backoff`], forever: the cursor never passes an event the hook has not handled. Every hook
//! has its own task, lease and backoff, so one that keeps failing never delays another.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fathom_core::outbound::Backoff;
use fathom_store::following::{Following, Held, wait_or_stop};
use fathom_store::{Lease, Store};
use futures_util::FutureExt;
use tokio::sync::watch;

use super::context::EngineSource;
use super::{CommittedEvent, HookContext, Registered};

/// Events read from the outbox at a time.
const PAGE: usize = 200;
/// Retries of a failed event: from 100 ms doubling to 30 s, jittered, forever.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(30),
    retries: u32::MAX,
};

/// The cursor of the hook `name`.
pub(crate) fn cursor_name(name: &str) -> String {
    format!("hook:{name}")
}

/// What every hook of a node shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub store: Store,
    pub engine: EngineSource,
    /// This node's name for leases (unique per process).
    pub holder: String,
    pub lease_ttl: Duration,
}

/// A hook's figures, for `/metrics`, logs and tests (kept here, read by `fathom_api`'s metrics).
pub use fathom_api::HookStats;

/// The running hooks of a node.
pub(crate) struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops every hook (an event in flight finishes or is abandoned after `timeout`); each
    /// releases its lease so another node takes over at once.
    pub async fn stop(self, timeout: Duration) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(timeout, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Creates every hook's cursor at the outbox's latest event if it does not exist yet, before the
/// server accepts writes, so a new hook sees everything committed once it serves.
pub(crate) async fn init_cursors(store: &Store, hooks: &[Registered]) -> anyhow::Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let latest = store
        .events_after(0, 1, None)
        .await
        .map_err(|e| anyhow::anyhow!("reading the outbox position: {}", e.detail))?
        .latest;
    for hook in hooks {
        store
            .cursor_init(&cursor_name(&hook.name), latest)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "creating the cursor of the after-commit hook `{}`: {}",
                    hook.name,
                    e.detail
                )
            })?;
    }
    Ok(())
}

/// Starts one task per hook.
pub(crate) fn start(hooks: &[(Registered, Arc<HookStats>)], shared: &Shared) -> Running {
    let (stop, stopping) = watch::channel(false);
    let tasks = hooks
        .iter()
        .map(|(hook, stats)| {
            tokio::spawn(run(
                hook.clone(),
                stats.clone(),
                shared.clone(),
                stopping.clone(),
            ))
        })
        .collect();
    Running { stop, tasks }
}

struct Worker {
    hook: Registered,
    cursor: String,
    stats: Arc<HookStats>,
    shared: Shared,
}

async fn run(
    hook: Registered,
    stats: Arc<HookStats>,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
) {
    let mut worker = Worker {
        cursor: cursor_name(&hook.name),
        hook,
        stats,
        shared,
    };
    while !*stop.borrow() {
        let acquired = worker
            .shared
            .store
            .cursor_acquire(
                &worker.cursor,
                &worker.shared.holder,
                worker.shared.lease_ttl,
            )
            .await;
        match acquired {
            Ok(Some(lease)) => {
                tracing::info!(hook = %worker.hook.name, position = lease.position, "after-commit hook running: this node holds its lease");
                worker.stats.note_position(lease.position);
                worker.stats.running.store(true, Ordering::Relaxed);
                let held = worker.run_while_held(lease, &mut stop).await;
                worker.stats.running.store(false, Ordering::Relaxed);
                match held {
                    Held::Lost => {
                        tracing::info!(hook = %worker.hook.name, "the after-commit hook's lease was lost; standing by")
                    }
                    Held::Stopping => break,
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(hook = %worker.hook.name, error = %e.detail, "cannot take the after-commit hook's lease")
            }
        }
        if wait_or_stop(&mut stop, worker.shared.lease_ttl / 4).await {
            break;
        }
    }
}

impl Worker {
    async fn run_while_held(&mut self, lease: Lease, stop: &mut watch::Receiver<bool>) -> Held {
        let mut following = Following::new(&self.shared.store, lease);
        loop {
            let page = match following.next_page(PAGE, stop).await {
                Ok(page) => page,
                Err(held) => return held,
            };
            let Some(last) = page.events.last().map(|e| e.sequence) else {
                continue;
            };
            for event in page.events {
                if !self.hook.takes(&event) {
                    continue;
                }
                let sequence = event.sequence;
                if let Err(held) = self.deliver(event, &mut following, stop).await {
                    if let Held::Stopping = held {
                        following.release().await;
                    }
                    return held;
                }
                // Each handled event moves the cursor, so a crash hands at most this one
                // event again.
                if let Err(held) = self.advance(&mut following, sequence).await {
                    return held;
                }
            }
            // Events the hook does not take move the cursor too, once per page.
            if last > following.lease.position
                && let Err(held) = self.advance(&mut following, last).await
            {
                return held;
            }
        }
    }

    /// Moves the cursor to `position`; a failed write is only logged (the events after the
    /// position are handed again after a takeover).
    async fn advance(&self, following: &mut Following, position: i64) -> Result<(), Held> {
        match following.advance(position).await {
            Ok(true) => {
                self.stats.note_position(position);
                Ok(())
            }
            Ok(false) => Err(Held::Lost),
            Err(e) => {
                tracing::warn!(hook = %self.hook.name, error = %e.detail, "cannot advance the after-commit hook's cursor");
                Ok(())
            }
        }
    }

    /// Hands `event` to the hook until it succeeds; between attempts the lease is renewed, so a
    /// long run of failures does not hand the hook to another node.
    async fn deliver(
        &mut self,
        mut event: CommittedEvent,
        following: &mut Following,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Held> {
        let engine = (self.shared.engine)();
        let schema = engine.schema().clone();
        // The outbox keeps encrypted fields sealed; a hook is the server's own code and sees
        // the values as written.
        if let Some(collection) = schema.collection(&event.collection)
            && let Err(e) = self.shared.store.reveal_event(collection, &mut event)
        {
            tracing::warn!(hook = %self.hook.name, sequence = event.sequence, error = %e.detail, "cannot decrypt the event's record; handing it sealed");
        }
        let mut attempt = 0u32;
        loop {
            let context = HookContext {
                store: self.shared.store.clone(),
                engine: engine.clone(),
                name: self.hook.name.clone(),
                attempt,
            };
            let outcome = AssertUnwindSafe(self.hook.hook.handle(&event, &context))
                .catch_unwind()
                .await;
            let failure = match outcome {
                Ok(Ok(())) => {
                    self.stats.handled.fetch_add(1, Ordering::Relaxed);
                    if attempt > 0 {
                        tracing::info!(hook = %self.hook.name, sequence = event.sequence, retries = attempt, "the after-commit hook handled the event after retries");
                    }
                    return Ok(());
                }
                Ok(Err(failure)) => failure.message,
                Err(panic) => format!("the hook panicked: {}", panic_message(&panic)),
            };
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(hook = %self.hook.name, sequence = event.sequence, attempt, error = %failure, "the after-commit hook failed; retrying with backoff");
            let pause = BACKOFF
                .jittered(attempt)
                .unwrap_or(BACKOFF.cap)
                .min(self.shared.lease_ttl / 3)
                .max(Duration::from_millis(10));
            attempt = attempt.saturating_add(1);
            if wait_or_stop(stop, pause).await {
                return Err(Held::Stopping);
            }
            following.renew_or_lost().await?;
        }
    }
}

/// The text a panic was raised with, when it was a string.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
