//! Direct fan-out: a connection with nothing of its own to do parks in its [`Seat`], and a
//! direct writer (one task per realtime thread) delivers the hub's batches to every parked
//! connection from one loop, handing each shared run, encoded once, straight to the
//! connection's [`Outlet`]: a WebSocket's socket ([`super::socket::Writer`]), or an SSE
//! stream's body (`sse.rs`). Parked, a connection costs a read of the hub's log, a lookup and a
//! hand-over per turn: no wake-up or poll of its own task, no channel.
//!
//! Each seat has its own turn: a seat that was handed something is served again one
//! [`fathom_events::pace`] later (150 ms with 10,000 connections), with whatever the hub has
//! appended meanwhile, and a seat that had nothing is served as soon as the hub appends. So the
//! seats' turns spread over the pace instead of every seat being served in one round after each
//! read of the outbox: an event waits for its seat's next turn, not for a read and then for the
//! round to reach the seat, and the sockets are written at an even rate.
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

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fathom_events::Hub;
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

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
    /// Delivers what the hub holds for it, only through `outlet`: whether it stays parked or
    /// goes back to its own loop.
    fn deliver_direct(&mut self, outlet: &dyn Outlet) -> Verdict;
}

/// The outcome of [`Parked::deliver_direct`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Batches were taken and handed over: stay parked, next turn one pace later.
    Delivered,
    /// Nothing was there to take: stay parked, next turn when the hub appends.
    Idle,
    /// The connection's own loop must go on (its next step is more than a shared run).
    GiveBack,
}

/// How a writer's turn at a seat went.
enum Served {
    Delivered,
    Idle,
    /// The connection was given back, taken back or parked again since it was admitted.
    Left,
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

    /// A writer's turn at this seat, admitted under `generation` (the connection no longer
    /// stays with this writer once it was taken back, parked again since, or dropped with its
    /// task).
    fn serve(&self, generation: u64) -> Served {
        if self.generation.load(Ordering::Acquire) != generation {
            return Served::Left;
        }
        let mut slot = self.slot();
        let Some(connection) = slot.as_mut() else {
            return Served::Left;
        };
        match connection.deliver_direct(&*self.outlet) {
            Verdict::Delivered => Served::Delivered,
            Verdict::Idle => Served::Idle,
            Verdict::GiveBack => {
                drop(slot);
                self.given_back.notify_one();
                Served::Left
            }
        }
    }
}

/// The node's direct writers: one task per realtime thread, each serving the seats admitted to
/// it, each seat in its turn.
pub struct Directs<P> {
    writers: Vec<Arc<Admissions<P>>>,
    next: AtomicUsize,
}

/// A seat admitted to a writer, with the generation it was parked under.
type Admitted<P> = (Arc<Seat<P>>, u64);

/// Seats admitted to one writer and not yet taken in.
struct Admissions<P> {
    seats: Mutex<Vec<Admitted<P>>>,
    admitted: Notify,
}

impl<P: Parked> Directs<P> {
    /// Starts `writers` direct writers following `hub` on `runtime` (the caller's when `None`).
    /// They hold only the hub's `fanned_out` watch, not the hub, so they end once the hub is
    /// dropped.
    pub fn start(hub: &Hub, writers: usize, runtime: Option<&Handle>) -> Self {
        let count = writers.max(1);
        let writers = (0..count)
            .map(|_| {
                let admissions = Arc::new(Admissions {
                    seats: Mutex::new(Vec::new()),
                    admitted: Notify::new(),
                });
                let task = run(hub.fanned_out(), Arc::clone(&admissions), count);
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

    /// Hands a parked seat to a writer (in turn), which serves it at once and then in its
    /// turns, until it gives the connection back or the connection is taken back.
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

/// Seats whose turns fall this close together are served in one wake-up of their writer.
const TURN_SLACK: Duration = Duration::from_millis(1);

/// Seats a writer serves before it lets the other tasks of its thread (the hub's tailer among
/// them) run.
const SEATS_PER_YIELD: usize = 256;

/// One writer's seats: those handed something, in the order of their next turn, and those that
/// had nothing at their last turn.
struct Turns<P> {
    due: VecDeque<(Admitted<P>, Instant)>,
    idle: Vec<Admitted<P>>,
    /// The writers of the node: this one's seats times this is about the node's parked seats.
    writers: usize,
}

impl<P: Parked> Turns<P> {
    /// A turn at `seat` now; its next one is a pace later if it was handed something, at the
    /// next append if not, none once it left.
    fn serve(&mut self, (seat, generation): Admitted<P>) {
        match seat.serve(generation) {
            Served::Delivered => {
                let pace = fathom_events::pace((self.due.len() + self.idle.len()) * self.writers);
                self.due
                    .push_back(((seat, generation), Instant::now() + pace));
            }
            Served::Idle => self.idle.push((seat, generation)),
            Served::Left => {}
        }
    }

    /// When the next turn of a seat that was handed something falls.
    fn next_due(&self) -> Option<Instant> {
        self.due.front().map(|(_, due)| *due)
    }

    /// Serves the seats that had nothing at their last turn (the hub has appended since).
    async fn serve_idle(&mut self) {
        let idle = std::mem::take(&mut self.idle);
        for (served, seat) in idle.into_iter().enumerate() {
            self.serve(seat);
            if served % SEATS_PER_YIELD == SEATS_PER_YIELD - 1 {
                tokio::task::yield_now().await;
            }
        }
    }

    /// Serves the seats whose turn has come (up to [`SEATS_PER_YIELD`] of them: the writer
    /// comes back for the rest once its thread's other tasks have run).
    fn serve_due(&mut self) {
        let until = Instant::now() + TURN_SLACK;
        for _ in 0..SEATS_PER_YIELD {
            match self.due.front() {
                Some((_, due)) if *due <= until => {}
                _ => return,
            }
            if let Some((seat, _)) = self.due.pop_front() {
                self.serve(seat);
            }
        }
    }
}

/// One direct writer: serves newly admitted seats at once, then each seat in its turn.
async fn run<P: Parked>(
    mut fanned: watch::Receiver<i64>,
    admissions: Arc<Admissions<P>>,
    writers: usize,
) {
    let mut turns = Turns {
        due: VecDeque::new(),
        idle: Vec::new(),
        writers,
    };
    loop {
        let next_due = turns.next_due();
        let appended = tokio::select! {
            biased;
            changed = fanned.changed() => {
                if changed.is_err() {
                    return;
                }
                true
            }
            () = admissions.admitted.notified() => false,
            () = sleep_until(next_due) => false,
        };
        let new: Vec<_> = std::mem::take(
            &mut *admissions
                .seats
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for seat in new {
            turns.serve(seat);
        }
        if appended {
            turns.serve_idle().await;
        }
        turns.serve_due();
        // Lets the thread's other tasks run between wake-ups, however far behind the turns are.
        tokio::task::yield_now().await;
    }
}

/// Completes at `at`, or never when there is no `at`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
