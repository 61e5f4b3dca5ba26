//! The hub: one tailer per node follows the outbox and fans every event out, in sequence order,
//! to every connection that joined it, each through a bounded queue of its own.
//!
//! The tailer never waits for a connection: what it read is offered with `try_send`, and a
//! connection whose queue is full is dropped from the hub and marked lagged (it learns so when it
//! has drained what its queue holds). Writers never wait for the hub either: the tailer reads what
//! they committed, after the fact, through [`Store::events_after`].
//!
//! Events travel in batches: everything one read of the outbox returned reaches a connection as
//! one queue item, so a connection wakes once per read, however many events it holds, and writes
//! them to its socket together. The tailer lets commits gather before it reads, longer when more
//! connections are joined (see [`gather`]): that bounds the wake-ups and socket writes per second
//! whatever the write rate, at the price of a few milliseconds of delivery latency.
//!
//! Joining is atomic with the fan-out: [`Hub::join`] takes the hub's lock, notes the sequence
//! the hub has fanned out up to, and registers the queue. Every event after that sequence reaches
//! the queue; every event up to it can be read from the store. That is what lets [`crate::Feed`]
//! replay a backlog and continue live without a gap or a duplicate.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fathom_store::{Store, StoreError};
use tokio::sync::{mpsc, watch};

use crate::Shared;
use crate::shared::Memo;

/// Events read from the outbox per query by the tailer.
pub const TAIL_BATCH: usize = 500;

/// How long the tailer lets commits gather after it is woken, before it reads them, with few
/// connections joined: a burst is then fanned out in batches, which each connection takes and
/// writes in one go, instead of one wake-up and one socket write per event per connection.
const GATHER_MIN: Duration = Duration::from_millis(2);

/// What each joined connection adds to the gathering time: a fan-out round costs every
/// connection a wake-up and a socket write, so with many connections fewer, larger rounds keep
/// the node from spending its CPU on rounds (1,000 connections: 17 ms; 10,000: 150 ms, the
/// [`GATHER_MAX`]). Each round's socket writes cost the kernel most of a delivery's CPU on
/// loopback, so at 10,000 connections fewer rounds free more CPU than they add waiting (W5's
/// crowd on 2 cores: p99 0.5-0.57 s with 150 ms against 0.69-1.04 s with 100 ms).
const GATHER_PER_CONNECTION: Duration = Duration::from_micros(15);

/// The longest the tailer lets commits gather.
const GATHER_MAX: Duration = Duration::from_millis(150);

/// How long the tailer lets commits gather before it reads them, with `connections` joined.
pub fn gather(connections: usize) -> Duration {
    let per_connection =
        GATHER_PER_CONNECTION.saturating_mul(connections.try_into().unwrap_or(u32::MAX));
    (GATHER_MIN + per_connection).min(GATHER_MAX)
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
    fn new(events: Box<[Arc<Shared>]>) -> Self {
        Self {
            events,
            made: Memo::new(MAX_MADE_PER_BATCH),
        }
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
    /// Events each connection's queue holds at most.
    queue: usize,
    members: Mutex<Members>,
    /// Set once the node stops: every member's queue is closed and no one may join.
    stopping: AtomicBool,
    connections: AtomicUsize,
    /// Events placed in members' queues, and members dropped for a full queue (for metrics).
    delivered: AtomicU64,
    dropped: AtomicU64,
    /// See [`Hub::observe`].
    observers: Mutex<Vec<Observer>>,
    /// See [`Hub::fanned_out`].
    fanned: watch::Sender<i64>,
}

/// What the hub has fanned out so far (see [`Hub::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Events placed in a member's queue (one per event per member).
    pub delivered: u64,
    /// Members dropped because their queue was full when an event arrived (each such member
    /// misses that event and every later one until it resumes).
    pub dropped: u64,
}

struct Members {
    /// The last sequence fanned out (every member has been offered every event up to it).
    position: i64,
    next_id: u64,
    slots: HashMap<u64, Slot>,
}

struct Slot {
    tx: mpsc::Sender<Arc<Batch>>,
    queue: Arc<Queue>,
}

/// What a member's queue holds, shared by the hub (which adds) and the member (which takes).
#[derive(Default)]
struct Queue {
    /// Events sent and not yet taken.
    events: AtomicUsize,
    /// Set when the hub dropped the member for falling behind.
    lagged: AtomicBool,
}

/// Why a member's queue closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The member did not keep up: its queue was full when an event arrived.
    Lagged,
    /// The node is stopping.
    Stopping,
}

/// A connection's place in the hub: its queue, and the sequence the hub had fanned out up to
/// when it joined. Leaves the hub when dropped.
pub struct Member {
    rx: mpsc::Receiver<Arc<Batch>>,
    queue: Arc<Queue>,
    /// The batch being taken, and how much of it has been.
    current: Option<(Arc<Batch>, usize)>,
    id: u64,
    joined_at: i64,
    hub: Hub,
}

impl Hub {
    /// A hub for `store` whose members queue at most `queue` events each, positioned at the
    /// latest committed event (so that it fans out only what is committed from now on). It fans
    /// nothing out until [`Hub::run`] runs.
    pub async fn open(store: Store, queue: usize) -> Result<Self, StoreError> {
        let latest = store.events_after(0, 1, None).await?.latest;
        let position = latest.max(*store.event_watch().borrow());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                queue: queue.max(1),
                members: Mutex::new(Members {
                    position,
                    next_id: 0,
                    slots: HashMap::new(),
                }),
                stopping: AtomicBool::new(false),
                connections: AtomicUsize::new(0),
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                observers: Mutex::new(Vec::new()),
                fanned: watch::Sender::new(position),
            }),
        })
    }

    /// The store the hub follows.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn members(&self) -> MutexGuard<'_, Members> {
        // Every update leaves the map whole, so a panic elsewhere cannot leave it half-done.
        self.inner
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The last sequence this node's hub has fanned out.
    pub fn position(&self) -> i64 {
        self.members().position
    }

    /// How many connections are joined now.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// Events fanned out and members dropped so far.
    pub fn stats(&self) -> HubStats {
        HubStats {
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            dropped: self.inner.dropped.load(Ordering::Relaxed),
        }
    }

    /// Whether the node is stopping (see [`Hub::stop`]).
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Acquire)
    }

    /// Joins the fan-out. `None` once the node is stopping.
    pub fn join(&self) -> Option<Member> {
        // A batch holds at least one event, so the channel never fills before the count does.
        let (tx, rx) = mpsc::channel(self.inner.queue);
        let queue = Arc::new(Queue::default());
        let mut members = self.members();
        if self.is_stopping() {
            return None;
        }
        let id = members.next_id;
        members.next_id += 1;
        members.slots.insert(
            id,
            Slot {
                tx,
                queue: Arc::clone(&queue),
            },
        );
        let joined_at = members.position;
        drop(members);
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        Some(Member {
            rx,
            queue,
            current: None,
            id,
            joined_at,
            hub: self.clone(),
        })
    }

    /// Tells `observer` of every batch the tailer reads from now on. Unlike a member, an
    /// observer never falls behind: it is called by the tailer itself, before the batch is
    /// offered to the members.
    pub fn observe(&self, observer: Observer) {
        self.inner
            .observers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(observer);
    }

    /// The last sequence fanned out, changed once every member's queue has been offered the
    /// batch that ends at it (and once more when the hub stops): whoever takes batches from
    /// many members' queues at once (`fathom-api`'s direct WebSocket writers) waits on this,
    /// so that it finds the batch in every queue.
    pub fn fanned_out(&self) -> watch::Receiver<i64> {
        self.inner.fanned.subscribe()
    }

    /// Closes every member's queue (each learns [`Closed::Stopping`] once it has drained it) and
    /// refuses new members: the first step of a graceful shutdown.
    pub fn stop(&self) {
        let mut members = self.members();
        self.inner.stopping.store(true, Ordering::Release);
        members.slots.clear();
        drop(members);
        self.inner.fanned.send_modify(|_| {});
    }

    /// Follows the outbox until the node stops: wakes on [`Store::event_watch`] (and at least
    /// once a second), lets commits [`gather`], reads every event after the last one fanned
    /// out, and offers them to every member as one batch, in sequence order.
    pub async fn run(self) {
        let mut watch = self.inner.store.event_watch();
        watch.borrow_and_update();
        let mut last = self.position();
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
                        self.fan_out(batch);
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
            tokio::select! {
                changed = watch.changed() => {
                    if changed.is_err() {
                        // The store's watch is gone: the store is closing. Poll until stopped.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    } else {
                        tokio::time::sleep(gather(self.connections())).await;
                    }
                }
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

    /// Offers `batch` (in sequence order; what was fanned out before is skipped) to every
    /// member. A member whose queue would hold more than the hub's `queue` events is dropped and
    /// marked lagged; an empty queue takes any batch.
    fn fan_out(&self, batch: Vec<Arc<Shared>>) {
        let mut members = self.members();
        let position = members.position;
        let fresh: Box<[Arc<Shared>]> = batch
            .into_iter()
            .filter(|e| e.sequence > position)
            .collect();
        let Some(last) = fresh.last().map(|e| e.sequence) else {
            return;
        };
        let fresh = Arc::new(Batch::new(fresh));
        let (limit, count) = (self.inner.queue, fresh.len());
        let (mut delivered, mut dropped) = (0u64, 0u64);
        members.slots.retain(|_, slot| {
            let queued = slot.queue.events.load(Ordering::Acquire);
            if queued > 0 && queued + count > limit {
                slot.queue.lagged.store(true, Ordering::Release);
                dropped += 1;
                return false;
            }
            slot.queue.events.fetch_add(count, Ordering::AcqRel);
            match slot.tx.try_send(Arc::clone(&fresh)) {
                Ok(()) => {
                    delivered += count as u64;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    slot.queue.lagged.store(true, Ordering::Release);
                    dropped += 1;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        members.position = last;
        drop(members);
        // Counted before the direct writers are told, so that no event reaches a client
        // before it is counted as delivered.
        self.inner.delivered.fetch_add(delivered, Ordering::Relaxed);
        self.inner.dropped.fetch_add(dropped, Ordering::Relaxed);
        self.inner.fanned.send_replace(last);
    }

    fn leave(&self, id: u64) {
        self.members().slots.remove(&id);
        self.inner.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Member {
    /// The sequence the hub had fanned out up to when this member joined: later events arrive
    /// through [`Member::recv`], earlier ones are read from the store.
    pub fn joined_at(&self) -> i64 {
        self.joined_at
    }

    /// The next event of the fan-out, or why there will be none. Ready at once while the batch
    /// last received has events left.
    pub async fn recv(&mut self) -> Result<Arc<Shared>, Closed> {
        loop {
            if let Some(event) = self.take_ready() {
                return Ok(event);
            }
            let batch = self.recv_batch().await?;
            self.current = Some((batch, 0));
        }
    }

    /// The next whole batch of the fan-out, or why there will be none. Only once the batch
    /// last received is used up (see [`Member::is_between_batches`]).
    pub async fn recv_batch(&mut self) -> Result<Arc<Batch>, Closed> {
        self.current = None;
        match self.rx.recv().await {
            Some(batch) => {
                self.queue.events.fetch_sub(batch.len(), Ordering::AcqRel);
                Ok(batch)
            }
            None if self.is_lagged() => Err(Closed::Lagged),
            None => Err(Closed::Stopping),
        }
    }

    /// The next whole batch if one is queued, without waiting (and without leaving a waker on
    /// the queue): `Ok(None)` when none is, `Err` once the queue is closed and empty. Only once
    /// the batch last received is used up.
    pub fn try_recv_batch(&mut self) -> Result<Option<Arc<Batch>>, Closed> {
        self.current = None;
        match self.rx.try_recv() {
            Ok(batch) => {
                self.queue.events.fetch_sub(batch.len(), Ordering::AcqRel);
                Ok(Some(batch))
            }
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) if self.is_lagged() => Err(Closed::Lagged),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(Closed::Stopping),
        }
    }

    /// Whether every event of the batch last received has been taken.
    pub fn is_between_batches(&self) -> bool {
        self.current
            .as_ref()
            .is_none_or(|(batch, taken)| *taken >= batch.len())
    }

    /// Takes events from `batch` next, as if it had just been received (a batch from
    /// [`Member::recv_batch`] that is not to be taken whole).
    pub fn take_from(&mut self, batch: Arc<Batch>) {
        self.current = Some((batch, 0));
    }

    /// The next event of the batch being taken, without waiting: `None` once it is used up
    /// (the next batch is for [`Member::recv`], so a connection writes one batch at a time).
    pub fn take_ready(&mut self) -> Option<Arc<Shared>> {
        let (batch, taken) = self.current.as_mut()?;
        let event = batch.get(*taken)?;
        *taken += 1;
        Some(Arc::clone(event))
    }

    /// Whether the hub dropped this member for falling behind. Its queue may still hold events;
    /// a connection stops at once instead of writing them to a client that cannot keep up.
    pub fn is_lagged(&self) -> bool {
        self.queue.lagged.load(Ordering::Acquire)
    }

    /// The hub this member belongs to.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.hub.leave(self.id);
    }
}
