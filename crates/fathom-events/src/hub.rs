//! The hub: one tailer per node follows the outbox and fans every event out, in sequence order,
//! to every connection that joined it, each through a bounded queue of its own.
//!
//! The tailer never waits for a connection: an event is offered with `try_send`, and a connection
//! whose queue is full is dropped from the hub and marked lagged (it learns so when it has
//! drained what its queue holds). Writers never wait for the hub either: the tailer reads what
//! they committed, after the fact, through [`Store::events_after`].
//!
//! Joining is atomic with the fan-out: [`Hub::join`] takes the hub's lock, notes the sequence
//! the hub has fanned out up to, and registers the queue. Every event after that sequence reaches
//! the queue; every event up to it can be read from the store. That is what lets [`crate::Feed`]
//! replay a backlog and continue live without a gap or a duplicate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fathom_store::{Store, StoreError};
use tokio::sync::mpsc;

use crate::Shared;

/// Events read from the outbox per query by the tailer.
pub const TAIL_BATCH: usize = 500;

/// How long the tailer lets commits gather after it is woken, before it reads them: a burst is
/// then fanned out in batches, which each connection takes and writes in one go, instead of one
/// wake-up and one socket write per event per connection.
const GATHER: Duration = Duration::from_millis(2);

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
    tx: mpsc::Sender<Arc<Shared>>,
    lagged: Arc<AtomicBool>,
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
    rx: mpsc::Receiver<Arc<Shared>>,
    lagged: Arc<AtomicBool>,
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
        let (tx, rx) = mpsc::channel(self.inner.queue);
        let lagged = Arc::new(AtomicBool::new(false));
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
                lagged: Arc::clone(&lagged),
            },
        );
        let joined_at = members.position;
        drop(members);
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        Some(Member {
            rx,
            lagged,
            id,
            joined_at,
            hub: self.clone(),
        })
    }

    /// Closes every member's queue (each learns [`Closed::Stopping`] once it has drained it) and
    /// refuses new members: the first step of a graceful shutdown.
    pub fn stop(&self) {
        let mut members = self.members();
        self.inner.stopping.store(true, Ordering::Release);
        members.slots.clear();
    }

    /// Follows the outbox until the node stops: wakes on [`Store::event_watch`] (and at least
    /// once a second), reads every event after the last one fanned out, and offers each to every
    /// member in sequence order.
    pub async fn run(self) {
        let mut watch = self.inner.store.event_watch();
        watch.borrow_and_update();
        let mut last = self.position();
        while !self.is_stopping() {
            match self.inner.store.events_after(last, TAIL_BATCH, None).await {
                Ok(page) => {
                    let full = page.events.len() >= TAIL_BATCH;
                    for event in page.events {
                        last = event.sequence;
                        self.fan_out(Arc::new(Shared::new(event)));
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
                        tokio::time::sleep(GATHER).await;
                    }
                }
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Offers `event` to every member; a member whose queue is full is dropped and marked lagged.
    fn fan_out(&self, event: Arc<Shared>) {
        let mut members = self.members();
        if event.sequence <= members.position {
            return;
        }
        let (mut delivered, mut dropped) = (0, 0);
        members
            .slots
            .retain(|_, slot| match slot.tx.try_send(Arc::clone(&event)) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    slot.lagged.store(true, Ordering::Release);
                    dropped += 1;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        members.position = event.sequence;
        self.inner.delivered.fetch_add(delivered, Ordering::Relaxed);
        self.inner.dropped.fetch_add(dropped, Ordering::Relaxed);
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

    /// The next event of the fan-out, or why there will be none.
    pub async fn recv(&mut self) -> Result<Arc<Shared>, Closed> {
        match self.rx.recv().await {
            Some(event) => Ok(event),
            None if self.lagged.load(Ordering::Acquire) => Err(Closed::Lagged),
            None => Err(Closed::Stopping),
        }
    }

    /// Whether the hub dropped this member for falling behind. Its queue may still hold events;
    /// a connection stops at once instead of writing them to a client that cannot keep up.
    pub fn is_lagged(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
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
