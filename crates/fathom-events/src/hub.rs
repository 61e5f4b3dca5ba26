//! The hub: one tailer per node follows the outbox and appends every batch of events it reads,
//! in sequence order, to one log that every connection joined to it reads from (`member.rs`).
//!
//! The tailer never waits for a connection: a connection that falls so far behind that the log
//! no longer holds its next event learns it lagged. Writers never wait for the hub either: the
//! tailer reads what they committed, after the fact, through [`Store::events_after`].
//!
//! Events travel in batches: everything one read of the outbox returned is one batch, which a
//! connection takes and writes in one go. Appending a batch costs the same whatever the number
//! of connections, so the tailer reads often ([`gather`]: a few milliseconds, at most 20); how
//! often each connection is woken or written to is paced apart, longer when more connections
//! are joined ([`pace`]): that bounds the wake-ups and socket writes per second whatever the
//! write rate. Connections waiting on their own loop are woken at most once a pace; parked ones
//! are served by the direct writers (`fathom-api`), each at its own time within the pace.
//!
//! Joining is atomic with the fan-out: [`Hub::join`] takes the log's lock and notes the sequence
//! the hub has fanned out up to. Every event after that sequence reaches the member through the
//! log; every event up to it can be read from the store. That is what lets [`crate::Feed`]
//! replay a backlog and continue live without a gap or a duplicate.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fathom_store::{Store, StoreError};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::Shared;
use crate::member::{Log, Member};
use crate::shared::Memo;

/// Events read from the outbox per query by the tailer.
pub const TAIL_BATCH: usize = 500;

/// The shortest pace, with few connections joined: a burst still reaches each connection in a
/// few batches, which it takes and writes in one go each, instead of one wake-up and one socket
/// write per event.
const PACE_MIN: Duration = Duration::from_millis(2);

/// What each joined connection adds to the pace: each time a connection is woken or written to
/// costs it a wake-up or a socket write, so with many connections each is written less often
/// (1,000 connections: 17 ms; 10,000: 150 ms, the [`PACE_MAX`]). The socket writes cost the
/// kernel most of a delivery's CPU on loopback, so at 10,000 connections fewer writes free more
/// CPU than they add waiting (W5's crowd on 2 cores).
const PACE_PER_CONNECTION: Duration = Duration::from_micros(15);

/// The longest pace.
const PACE_MAX: Duration = Duration::from_millis(150);

/// The longest the tailer lets commits gather before it reads them.
const GATHER_MAX: Duration = Duration::from_millis(20);

/// How often at most a connection is woken for new batches, or written to by a direct writer,
/// with `connections` joined.
pub fn pace(connections: usize) -> Duration {
    let per_connection =
        PACE_PER_CONNECTION.saturating_mul(connections.try_into().unwrap_or(u32::MAX));
    (PACE_MIN + per_connection).min(PACE_MAX)
}

/// How long the tailer lets commits gather after it is woken, before it reads them, with
/// `connections` joined: the [`pace`], up to 20 ms (a read and an append cost the same
/// whatever the connections; reading often lets each connection's turn, not the read, set
/// when it gets an event).
pub fn gather(connections: usize) -> Duration {
    pace(connections).min(GATHER_MAX)
}

/// Events as the hub hands them to every connection: everything one read of the outbox returned
/// (after what had been fanned out before), in sequence order, and what connections made of the
/// whole batch ([`Batch::made`]).
pub struct Batch {
    events: Box<[Arc<Shared>]>,
    made: Memo<Arc<dyn Any + Send + Sync>>,
}

/// Distinct things made of one batch that it keeps (one per way of seeing it, see
/// [`Batch::made`]); past that, each connection keeps what it makes.
const MAX_MADE_PER_BATCH: usize = 16;

impl Batch {
    /// A batch of `events`, in sequence order; never empty.
    pub(crate) fn new(events: Box<[Arc<Shared>]>) -> Self {
        debug_assert!(!events.is_empty());
        Self {
            events,
            made: Memo::new(MAX_MADE_PER_BATCH),
        }
    }

    /// The sequence of its first event.
    pub fn first_sequence(&self) -> i64 {
        self.events.first().map_or(0, |event| event.sequence)
    }

    /// The sequence of its last event.
    pub fn last_sequence(&self) -> i64 {
        self.events.last().map_or(0, |event| event.sequence)
    }

    /// What connections made of this whole batch, under the key of what decided it: a
    /// connection whose frames for the batch depend on nothing but the events and that key (its
    /// subscriptions' ids, collections, tenants and shapes, with no per-connection memory) takes
    /// what the first such connection made, instead of judging and encoding every event again.
    pub fn made(&self) -> &Memo<Arc<dyn Any + Send + Sync>> {
        &self.made
    }
}

impl std::ops::Deref for Batch {
    type Target = [Arc<Shared>];

    fn deref(&self) -> &[Arc<Shared>] {
        &self.events
    }
}

/// Told of every batch of events the tailer reads, in sequence order, before any member is
/// offered it (the result cache drops what the events change). Called on the tailer's task, so
/// it must be quick and never block.
pub type Observer = Box<dyn Fn(&[Arc<Shared>]) + Send + Sync>;

/// How long the tailer waits after a failed read before trying again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The node's hub; a clone shares it.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Events the log keeps at least: a member further behind has lagged.
    queue: usize,
    log: Mutex<Log>,
    /// Set once the node stops: nothing more is appended and no one may join.
    stopping: AtomicBool,
    connections: AtomicUsize,
    /// Events members took from the log, and members that lagged (for metrics).
    delivered: AtomicU64,
    dropped: AtomicU64,
    /// See [`Hub::observe`].
    observers: Mutex<Vec<Observer>>,
    /// See [`Hub::fanned_out`].
    fanned: watch::Sender<i64>,
    /// Changed at most once a [`pace`] after batches were appended (and when the hub stops):
    /// what members waiting for the next batch wait on.
    wake: watch::Sender<i64>,
}

/// What the hub has fanned out so far (see [`Hub::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Events members took from the log (one per event per member).
    pub delivered: u64,
    /// Members that fell so far behind that the log no longer held their next event (each
    /// misses that event and every later one until it resumes).
    pub dropped: u64,
}

impl Hub {
    /// A hub whose log keeps at least `queue` events (a member further behind has lagged),
    /// positioned at the latest committed event (so that it fans out only what is committed
    /// from now on). It fans nothing out until [`Hub::run`] runs.
    pub async fn open(store: Store, queue: usize) -> Result<Self, StoreError> {
        let latest = store.events_after(0, 1, None).await?.latest;
        let position = latest.max(*store.event_watch().borrow());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                queue: queue.max(1),
                log: Mutex::new(Log::new(position)),
                stopping: AtomicBool::new(false),
                connections: AtomicUsize::new(0),
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                observers: Mutex::new(Vec::new()),
                fanned: watch::Sender::new(position),
                wake: watch::Sender::new(position),
            }),
        })
    }

    /// The store the hub follows.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, Log> {
        // Every update leaves the log whole, so a panic elsewhere cannot leave it half-done.
        self.inner
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The last sequence this node's hub has fanned out.
    pub fn position(&self) -> i64 {
        self.log().position
    }

    /// How many connections are joined now.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Events taken by members and members that lagged so far.
    pub fn stats(&self) -> HubStats {
        HubStats {
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            dropped: self.inner.dropped.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn counted_delivered(&self, events: usize) {
        self.inner
            .delivered
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn counted_dropped(&self) {
        self.inner.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the node is stopping (see [`Hub::stop`]).
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Joins the fan-out. `None` once the node is stopping.
    pub fn join(&self) -> Option<Member> {
        let log = self.log();
        if log.stopping {
            return None;
        }
        let joined_at = log.position;
        // Counted under the log's lock: the tailer keeps nothing while no one is joined.
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        drop(log);
        Some(Member::new(
            self.clone(),
            joined_at,
            self.inner.wake.subscribe(),
        ))
    }

    pub(crate) fn leave(&self) {
        self.inner.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Tells `observer` of every batch the tailer reads from now on. Unlike a member, an
    /// observer never falls behind: it is called by the tailer itself, before the batch is
    /// appended to the log.
    pub fn observe(&self, observer: Observer) {
        self.inner
            .observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(observer);
    }

    /// The last sequence fanned out, changed as soon as the batch that ends at it is in the log
    /// (and once more when the hub stops): whoever takes batches for many members at once
    /// (`fathom-api`'s direct writers) waits on this, not on the paced wake-up members wait on.
    pub fn fanned_out(&self) -> watch::Receiver<i64> {
        self.inner.fanned.subscribe()
    }

    /// Appends nothing more and refuses new members; each member learns [`Closed::Stopping`]
    /// once it has taken what the log holds after it: the first step of a graceful shutdown.
    ///
    /// [`Closed::Stopping`]: crate::Closed::Stopping
    pub fn stop(&self) {
        let mut log = self.log();
        self.inner.stopping.store(true, Ordering::Release);
        log.stopping = true;
        drop(log);
        self.inner.fanned.send_modify(|_| {});
        self.inner.wake.send_modify(|_| {});
    }

    /// Follows the outbox until the node stops: wakes on [`Store::event_watch`] (and at least
    /// once a second), lets commits [`gather`], reads every event after the last one fanned
    /// out and appends them to the log as one batch, in sequence order. Members waiting for a
    /// batch are woken at most once a [`pace`] after the first batch they have not been woken
    /// for.
    pub async fn run(self) {
        let mut watch = self.inner.store.event_watch();
        watch.borrow_and_update();
        let mut last = self.position();
        // When members were last woken, and whether batches were appended since.
        let mut woken = Instant::now();
        let mut unwoken = false;
        while !self.is_stopping() {
            match self.inner.store.events_after(last, TAIL_BATCH, None).await {
                Ok(page) => {
                    let full = page.events.len() >= TAIL_BATCH;
                    if let Some(event) = page.events.last() {
                        last = event.sequence;
                        let batch: Vec<Arc<Shared>> = page
                            .events
                            .into_iter()
                            .map(Shared::new)
                            .map(Arc::new)
                            .collect();
                        self.notify(&batch);
                        unwoken |= self.fan_out(batch);
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.detail, "the realtime hub could not read the outbox; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            }
            let connections = self.connections();
            let wake_at = woken + pace(connections);
            if unwoken && Instant::now() >= wake_at {
                self.inner.wake.send_replace(last);
                (woken, unwoken) = (Instant::now(), false);
            }
            tokio::select! {
                changed = watch.changed() => {
                    if changed.is_err() {
                        // The store's watch is gone: the store is closing. Poll until stopped.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    } else {
                        tokio::time::sleep(gather(connections)).await;
                    }
                }
                () = tokio::time::sleep_until(wake_at), if unwoken => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Hands `batch` to every observer.
    fn notify(&self, batch: &[Arc<Shared>]) {
        let observers = self
            .inner
            .observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for observer in observers.iter() {
            observer(batch);
        }
    }

    /// Appends `batch` (in sequence order; what was fanned out before is skipped) to the log
    /// and tells the direct writers: whether anything was appended.
    fn fan_out(&self, batch: Vec<Arc<Shared>>) -> bool {
        let mut log = self.log();
        if log.stopping {
            return false;
        }
        let position = log.position;
        let fresh: Box<[Arc<Shared>]> = batch
            .into_iter()
            .filter(|e| e.sequence > position)
            .collect();
        if fresh.is_empty() {
            return false;
        }
        let fresh = Arc::new(Batch::new(fresh));
        let last = fresh.last_sequence();
        if self.connections() == 0 {
            // No member needs it, and one that joins from now on starts after it: a node
            // without realtime connections keeps no events in memory.
            log.skip_to(last);
        } else {
            log.append(fresh, self.inner.queue);
        }
        drop(log);
        self.inner.fanned.send_replace(last);
        true
    }
}
