//! One after-commit hook's task: hold the lease on the hook's cursor (`hook:<name>`), read the
//! outbox after its position, hand every event the hook takes to it in sequence order, and
//! advance the cursor after each; stand by while another node holds the lease. An `Err` or a
//! panic (caught, `FutureExt::catch_unwind`) has the same event handed again after a jittered
//! [`Backoff`], forever: the cursor never passes an event the hook has not handled. Every hook
//! has its own task, lease and backoff, so one that keeps failing never delays another.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fathom_core::outbound::Backoff;
use fathom_store::{Lease, Store};
use futures_util::FutureExt;
use tokio::sync::watch;

use super::context::SchemaSource;
use super::{CommittedEvent, HookContext, Registered};

/// Events read from the outbox at a time.
const PAGE: usize = 200;
/// Retries of a failed event: from 100 ms doubling to 30 s, jittered, forever.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(30),
    retries: u32::MAX,
};
/// With nothing new, the outbox is read again after this long even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The cursor of the hook `name`.
pub(crate) fn cursor_name(name: &str) -> String {
    format!("hook:{name}")
}

/// What every hook of a node shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub store: Store,
    pub schema: SchemaSource,
    /// This node's name for leases (unique per process).
    pub holder: String,
    pub lease_ttl: Duration,
}

/// A hook's figures, for logs and tests.
#[derive(Default, Debug)]
pub struct HookStats {
    /// Events handed to the hook and handled.
    pub handled: AtomicU64,
    /// Failed attempts (errors and panics).
    pub failures: AtomicU64,
    /// The cursor's position as this node last knew it.
    pub position: AtomicU64,
}

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

/// Why a held lease ended.
enum Held {
    Lost,
    Stopping,
}

struct Worker {
    hook: Registered,
    cursor: String,
    stats: Arc<HookStats>,
    shared: Shared,
    renewed: Instant,
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
        renewed: Instant::now(),
    };
    while !*stop.borrow() {
        let acquired = worker
            .shared
            .store
            .cursor_acquire(&worker.cursor, &worker.shared.holder, worker.shared.lease_ttl)
            .await;
        match acquired {
            Ok(Some(lease)) => {
                worker.renewed = Instant::now();
                tracing::info!(hook = %worker.hook.name, position = lease.position, "after-commit hook running: this node holds its lease");
                match worker.run_while_held(lease, &mut stop).await {
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

/// Sleeps `pause`; true if `stop` turned true meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    let _ = tokio::time::timeout(pause, stop.wait_for(|stopping| *stopping)).await;
    *stop.borrow()
}

impl Worker {
    async fn run_while_held(&mut self, mut lease: Lease, stop: &mut watch::Receiver<bool>) -> Held {
        let store = self.shared.store.clone();
        let mut wake = store.event_watch();
        loop {
            if *stop.borrow() {
                let _ = store.cursor_release(&lease).await;
                return Held::Stopping;
            }
            let page = match store.events_after(lease.position, PAGE, None).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(hook = %self.hook.name, error = %e.detail, "cannot read the outbox");
                    if wait_or_stop(stop, IDLE_POLL).await {
                        continue;
                    }
                    if !self.renew(&mut lease).await {
                        return Held::Lost;
                    }
                    continue;
                }
            };
            if page.oldest > lease.position + 1 {
                tracing::error!(
                    hook = %self.hook.name,
                    position = lease.position,
                    oldest = page.oldest,
                    "events were pruned from the outbox before this after-commit hook handled them; continuing from the oldest kept event"
                );
            }
            let Some(last) = page.events.last().map(|e| e.sequence) else {
                if !self.renew(&mut lease).await {
                    return Held::Lost;
                }
                let _ = wake.borrow_and_update();
                tokio::select! {
                    _ = tokio::time::timeout(IDLE_POLL.min(self.shared.lease_ttl / 3), wake.changed()) => {}
                    _ = stop.wait_for(|stopping| *stopping) => {}
                }
                continue;
            };
            for event in page.events {
                if !self.hook.takes(&event) {
                    continue;
                }
                let sequence = event.sequence;
                if let Err(held) = self.deliver(event, &mut lease, stop).await {
                    if let Held::Stopping = held {
                        let _ = store.cursor_release(&lease).await;
                    }
                    return held;
                }
                // Each handled event moves the cursor, so a crash hands at most this one
                // event again.
                match store.cursor_advance(&mut lease, sequence).await {
                    Ok(true) => self.renewed = Instant::now(),
                    Ok(false) => return Held::Lost,
                    Err(e) => {
                        tracing::warn!(hook = %self.hook.name, error = %e.detail, "cannot advance the after-commit hook's cursor")
                    }
                }
                self.stats
                    .position
                    .store(u64::try_from(sequence).unwrap_or(0), Ordering::Relaxed);
            }
            // Events the hook does not take move the cursor too, once per page.
            if last > lease.position {
                match store.cursor_advance(&mut lease, last).await {
                    Ok(true) => self.renewed = Instant::now(),
                    Ok(false) => return Held::Lost,
                    Err(e) => {
                        tracing::warn!(hook = %self.hook.name, error = %e.detail, "cannot advance the after-commit hook's cursor")
                    }
                }
            }
        }
    }

    /// Hands `event` to the hook until it succeeds; between attempts the lease is renewed, so a
    /// long run of failures does not hand the hook to another node.
    async fn deliver(
        &mut self,
        mut event: CommittedEvent,
        lease: &mut Lease,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Held> {
        let schema = (self.shared.schema)();
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
                schema: self.shared.schema.clone(),
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
            if !self.renew(lease).await {
                return Err(Held::Lost);
            }
        }
    }

    /// Renews the lease once a third of it has passed since the last renewal; false when lost.
    async fn renew(&mut self, lease: &mut Lease) -> bool {
        if self.renewed.elapsed() < self.shared.lease_ttl / 3 {
            return true;
        }
        let position = lease.position;
        match self.shared.store.cursor_advance(lease, position).await {
            Ok(renewed) => {
                self.renewed = Instant::now();
                renewed
            }
            Err(_) => true,
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
