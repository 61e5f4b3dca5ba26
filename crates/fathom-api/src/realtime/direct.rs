//! Direct fan-out: a connection with nothing of its own to do parks in its [`Seat`], and a
//! direct writer (one task per realtime thread) delivers the hub's batches to every parked
//! connection from one loop, handing each shared run, encoded once, straight to the
//! connection's [`Outlet`]: a WebSocket's socket ([`super::socket::Writer`]), or an SSE
//! stream's body (`sse.rs`). Parked, a connection costs a queue read, a lookup and a hand-over
//! per batch: no wake-up or poll of its own task, no channel.
//!
//! The connection is the same object either way: its [`fathom_events::Feed`] moves with it, so
//! its position, lag and resume point stay exact. Its loop gets it back whenever anything needs
//! more than a shared run written (a client message, a credential check, a batch that is not
//! shareable, bytes the socket did not take at once): the writer gives it back, or the loop
//! takes it back, under the seat's lock, so the two never write for it at the same time.
//!
//! Parking is ordered with the connection's own frames: the loop queues a `Park` marker behind
//! them, and its socket task admits the seat to a writer only once it has handed everything
//! before the marker to the socket's writer.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fathom_events::Hub;
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

use super::outgoing::SharedRun;

/// Where a parked connection's shared runs go.
pub trait Outlet: Send + Sync + 'static {
    /// Whether everything handed over was taken (nothing waits for the socket or the body): a
    /// direct writer hands more only then.
    fn is_idle(&self) -> bool;

    /// Hands `runs` over, in order, as one write; `Err` once the transport has failed.
    fn send_runs(&self, runs: &[Arc<SharedRun>]) -> io::Result<()>;
}

/// What a parked connection does for its writer.
pub trait Parked: Send + 'static {
    /// Delivers what is queued for it, only through `outlet`: whether it stays parked or goes
    /// back to its own loop.
    fn deliver_direct(&mut self, outlet: &dyn Outlet) -> Verdict;
}

/// The outcome of [`Parked::deliver_direct`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything queued was written (or nothing was queued): stay parked.
    Stay,
    /// The connection's own loop must go on (its next step is more than a shared run).
    GiveBack,
}

/// Where one connection parks: the connection while it is parked, its outlet, and the signal
/// that gives it back.
pub struct Seat<P> {
    parked: Mutex<Option<P>>,
    /// Bumped at every park, so that a writer drops what an earlier park admitted.
    generation: AtomicU64,
    given_back: Notify,
    outlet: Arc<dyn Outlet>,
}

impl<P: Parked> Seat<P> {
    pub fn new(outlet: Arc<dyn Outlet>) -> Arc<Self> {
        Arc::new(Self {
            parked: Mutex::new(None),
            generation: AtomicU64::new(0),
            given_back: Notify::new(),
            outlet,
        })
    }

    fn slot(&self) -> MutexGuard<'_, Option<P>> {
        // The slot is only ever replaced whole.
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where its shared runs go.
    pub fn outlet(&self) -> &dyn Outlet {
        &*self.outlet
    }

    /// Parks `connection`: the generation to admit it under ([`Directs::admit`]).
    pub fn park(&self, connection: P) -> u64 {
        let mut slot = self.slot();
        *slot = Some(connection);
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Completes when a writer has given the connection back (or once after an earlier give
    /// back its loop did not wait for: the loop then takes one step of its own and parks again).
    pub async fn given_back(&self) {
        self.given_back.notified().await;
    }

    /// Takes the connection back for its loop; no writer writes for it afterwards. `None` only
    /// if it was not parked.
    pub fn take(&self) -> Option<P> {
        self.slot().take()
    }

    /// A writer's turn at this seat, admitted under `generation`: whether the connection stays
    /// parked with this writer (not once it was taken back, parked again since, or dropped with
    /// its task).
    fn serve(&self, generation: u64) -> bool {
        if self.generation.load(Ordering::Acquire) != generation {
            return false;
        }
        let mut slot = self.slot();
        let Some(connection) = slot.as_mut() else {
            return false;
        };
        match connection.deliver_direct(&*self.outlet) {
            Verdict::Stay => true,
            Verdict::GiveBack => {
                drop(slot);
                self.given_back.notify_one();
                false
            }
        }
    }
}

/// The node's direct writers: one task per realtime thread, each serving the seats admitted to
/// it after every batch the hub fans out.
pub struct Directs<P> {
    writers: Vec<Arc<Admissions<P>>>,
    next: AtomicUsize,
}

/// Seats admitted to one writer and not yet taken in.
struct Admissions<P> {
    seats: Mutex<Vec<(Arc<Seat<P>>, u64)>>,
    admitted: Notify,
}

impl<P: Parked> Directs<P> {
    /// Starts `writers` direct writers following `hub` on `runtime` (the caller's when `None`).
    /// They hold only the hub's `fanned_out` watch, not the hub, so they end once the hub is
    /// dropped.
    pub fn start(hub: &Hub, writers: usize, runtime: Option<&Handle>) -> Self {
        let writers = (0..writers.max(1))
            .map(|_| {
                let admissions = Arc::new(Admissions {
                    seats: Mutex::new(Vec::new()),
                    admitted: Notify::new(),
                });
                let task = run(hub.fanned_out(), Arc::clone(&admissions));
                match runtime {
                    Some(runtime) => drop(runtime.spawn(task)),
                    None => drop(tokio::spawn(task)),
                }
                admissions
            })
            .collect();
        Self {
            writers,
            next: AtomicUsize::new(0),
        }
    }

    /// Hands a parked seat to a writer (in turn), which serves it at once and then after every
    /// batch, until it gives the connection back or the connection is taken back.
    pub fn admit(&self, seat: Arc<Seat<P>>, generation: u64) {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        let admissions = &self.writers[index];
        admissions
            .seats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((seat, generation));
        admissions.admitted.notify_one();
    }
}

/// One direct writer: serves newly admitted seats at once, and every seat after each batch.
async fn run<P: Parked>(mut fanned: watch::Receiver<i64>, admissions: Arc<Admissions<P>>) {
    let mut seats: Vec<(Arc<Seat<P>>, u64)> = Vec::new();
    loop {
        let batch = tokio::select! {
            changed = fanned.changed() => {
                if changed.is_err() {
                    return;
                }
                true
            }
            () = admissions.admitted.notified() => false,
        };
        let new: Vec<_> = std::mem::take(
            &mut *admissions
                .seats
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if batch {
            seats.extend(new);
            seats.retain(|(seat, generation)| seat.serve(*generation));
        } else {
            seats.extend(
                new.into_iter()
                    .filter(|(seat, generation)| seat.serve(*generation)),
            );
        }
    }
}
