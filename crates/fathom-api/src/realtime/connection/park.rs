//! Parking a connection (see `realtime/direct.rs`): when it may, how its loop hands it to a
//! direct writer and waits, and what the writer does with it in its turn: hand the batches the
//! hub's log holds for it, as its group's shared runs, to its outlet (a WebSocket's socket, an
//! SSE stream's body), or give it back the moment anything needs more.

use std::sync::Arc;

use fathom_events::Ready;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::{Connection, ConnectionSeat, Inbound, keep, made, next_message};
use crate::error::ApiError;
use crate::realtime::direct::{Outlet, Parked, Verdict};
use crate::realtime::outgoing::{Outgoing, SharedRun};

/// Why a parked connection's loop woke.
pub(super) enum Woken {
    /// A direct writer gave the connection back: its next step is its loop's.
    GivenBack,
    /// A client message (`None`: the transport is gone).
    Message(Option<Inbound>),
    /// The credential, presented again, no longer holds.
    Ended(ApiError),
    /// The transport is gone.
    Gone,
}

impl Connection {
    /// The seat to park in, when the connection may park now: it has a seat, every
    /// subscription shares its runs ([`super::subscriptions::Subscriptions::share_key`]), its feed is live with
    /// nothing at hand, its outlet has taken everything, and the node is not stopping.
    pub(super) fn may_park(&mut self) -> Option<Arc<ConnectionSeat>> {
        let seat = self.seat.as_ref()?;
        let may = !self.subscriptions.is_empty()
            && self.feed.is_idle_live()
            && seat.outlet().is_idle()
            && !self.state.realtime.hub.is_stopping();
        (may && self.subscriptions.share_key().is_some()).then(|| Arc::clone(seat))
    }

    /// The shared run of `batch` for this connection's share key, made here if no connection
    /// has made it yet, without waiting: `None` when judging would wait or ends the stream
    /// (the connection's loop then judges the batch itself).
    fn shared_run_now(&mut self, batch: &fathom_events::Batch) -> Option<Arc<SharedRun>> {
        let key = self.subscriptions.share_key()?;
        if let Some(run) = made(batch, &key) {
            return Some(run);
        }
        // A subscription with a share key has no filter and no rule: judging reads nothing.
        match self.judge_batch(batch).now_or_never()? {
            Ok(frames) => Some(keep(batch, &key, SharedRun::new(frames))),
            Err(_) => None,
        }
    }
}

/// Parks `connection` in `seat` behind what it has queued, and waits until a writer gives it
/// back or its loop has something to do: the connection, and why it woke. Its credential is
/// presented again while it is parked as at any other time (`rechecks.rs`); the loop wakes only
/// if it no longer holds.
pub(super) async fn park(
    connection: Connection,
    seat: Arc<ConnectionSeat>,
    inbound: &mut Option<mpsc::Receiver<Inbound>>,
) -> (Connection, Woken) {
    let out = connection.out.clone();
    let mut ending = connection.presented.ending();
    let generation = seat.park(connection);
    // Dropped with this future (the transport's task ended): the connection leaves the seat,
    // and with it the hub, at once, not at the direct writer's next turn.
    let _leave = LeaveOnDrop(&seat);
    let woken = if out
        .send(Outgoing::Park(Arc::clone(&seat), generation))
        .await
        .is_err()
    {
        Woken::Gone
    } else {
        tokio::select! {
            () = seat.given_back() => Woken::GivenBack,
            message = next_message(inbound) => Woken::Message(message),
            problem = ending.ended() => Woken::Ended(problem),
            () = out.closed() => Woken::Gone,
        }
    };
    let connection = seat
        .take()
        .expect("a parked connection is taken back by its own loop only");
    (connection, woken)
}

/// Takes a parked connection out of its seat (and drops it) when its loop is dropped.
struct LeaveOnDrop<'a>(&'a ConnectionSeat);

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

impl Parked for Connection {
    /// Hands every batch the hub appended since its last turn over as one write.
    fn deliver_direct(&mut self, outlet: &dyn Outlet) -> Verdict {
        if !outlet.is_idle() {
            // The socket or body did not take everything yet: the loop waits for it.
            return Verdict::GiveBack;
        }
        let mut runs = Vec::new();
        // The first sequence and the last batch taken this turn.
        let mut taken: Option<(i64, Arc<fathom_events::Batch>)> = None;
        let verdict = loop {
            let batch = match self.feed.try_batch() {
                Ready::Batch(batch) => batch,
                Ready::Nothing if taken.is_some() => break Verdict::Delivered,
                Ready::Nothing => break Verdict::Idle,
                Ready::Step => break Verdict::GiveBack,
            };
            let Some(run) = self.shared_run_now(&batch) else {
                self.feed.put_back(batch);
                break Verdict::GiveBack;
            };
            if !run.is_empty() {
                runs.push(run);
            }
            let first = taken
                .as_ref()
                .map_or(batch.first_sequence(), |(first, _)| *first);
            taken = Some((first, batch));
        };
        if runs.len() > 1
            && let (Some((first, last)), Some(key)) = (&taken, self.subscriptions.share_key())
        {
            runs = vec![joined_run(*first, last, &key, runs)];
        }
        if runs.is_empty() {
            return verdict;
        }
        match outlet.send_runs(&runs) {
            Ok(()) => verdict,
            // The transport failed: its task ends, and the loop with it.
            Err(_) => Verdict::GiveBack,
        }
    }
}

/// `runs`, made of the batches from the one that starts at `first` to `last` for the share key
/// `key`, as one run: kept with `last`, so that every connection of the group that takes the
/// same batches in one turn writes the same bytes without laying them end to end again (with
/// turns spread over the pace, a few hundred connections take each such span).
fn joined_run(
    first: i64,
    last: &fathom_events::Batch,
    key: &str,
    runs: Vec<Arc<SharedRun>>,
) -> Arc<SharedRun> {
    // Never a share key: those start with `run` (`subscriptions.rs`).
    let key = format!("span {first}|{key}");
    made(last, &key).unwrap_or_else(|| keep(last, &key, SharedRun::joined(runs)))
}
