//! Parking a connection (see `realtime/direct.rs`): when it may, how its loop hands it to a
//! direct writer and waits, and what the writer does with it: hand the batches queued for it,
//! as its group's shared runs, to its outlet (a WebSocket's socket, an SSE stream's body), or
//! give it back the moment anything needs more.

use std::sync::Arc;

use fathom_events::Ready;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::{Connection, ConnectionSeat, Inbound, check_again, keep, made, next_message};
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
            Ok(frames) => Some(keep(batch, &key, frames)),
            Err(_) => None,
        }
    }
}

/// Parks `connection` in `seat` behind what it has queued, and waits until a writer gives it
/// back or its loop has something to do: the connection, and why it woke. The credential is
/// presented again while parked, on the loop's schedule, without taking the connection back
/// unless it no longer holds (the fresh principal is the connection's when it wakes).
pub(super) async fn park(
    connection: Connection,
    seat: Arc<ConnectionSeat>,
    inbound: &mut Option<mpsc::Receiver<Inbound>>,
    recheck: &mut tokio::time::Interval,
) -> (Connection, Woken) {
    let out = connection.out.clone();
    let (state, credential, held) = (
        connection.state.clone(),
        connection.credential.clone(),
        connection.standing.clone(),
    );
    let generation = seat.park(connection);
    // Dropped with this future (the transport's task ended): the connection leaves the seat,
    // and with it the hub, at once, not at the direct writer's next turn.
    let _leave = LeaveOnDrop(&seat);
    let mut fresh = None;
    let woken = if out
        .send(Outgoing::Park(Arc::clone(&seat), generation))
        .await
        .is_err()
    {
        Woken::Gone
    } else {
        loop {
            tokio::select! {
                () = seat.given_back() => break Woken::GivenBack,
                message = next_message(inbound) => break Woken::Message(message),
                _ = recheck.tick() => match check_again(&state, &credential, &held).await {
                    Ok(principal) => fresh = principal.or(fresh),
                    Err(error) => break Woken::Ended(error),
                },
                () = out.closed() => break Woken::Gone,
            }
        }
    };
    let mut connection = seat
        .take()
        .expect("a parked connection is taken back by its own loop only");
    if let Some(principal) = fresh {
        connection.principal = principal;
    }
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
    /// Hands every batch queued (a writer that fell behind finds several) over as one write.
    fn deliver_direct(&mut self, outlet: &dyn Outlet) -> Verdict {
        if !outlet.is_idle() {
            // The socket or body did not take everything yet: the loop waits for it.
            return Verdict::GiveBack;
        }
        let mut runs = Vec::new();
        let verdict = loop {
            let batch = match self.feed.try_batch() {
                Ready::Batch(batch) => batch,
                Ready::Nothing => break Verdict::Stay,
                Ready::Step => break Verdict::GiveBack,
            };
            let Some(run) = self.shared_run_now(&batch) else {
                self.feed.put_back(batch);
                break Verdict::GiveBack;
            };
            if !run.is_empty() {
                runs.push(run);
            }
        };
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
