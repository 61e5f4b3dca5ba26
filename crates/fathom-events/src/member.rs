//! The hub's log of recent batches, shared by every connection, and a connection's place in it
//! ([`Member`]): a cursor, not a queue of its own.
//!
//! The tailer appends each batch it reads to one log, in sequence order; each member takes the
//! batches after its cursor when it gets to them. Fanning a batch out is one append, whatever the
//! number of connections: a connection parked with a direct writer costs the hub nothing until
//! its writer serves it. The log keeps at least the hub's `queue` events: a member whose next
//! event has been dropped from it did not keep up, and learns it lagged (what a full queue of
//! its own said before).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

use crate::Shared;
use crate::hub::{Batch, Hub};

/// The batches fanned out lately, oldest first.
pub(crate) struct Log {
    batches: VecDeque<Arc<Batch>>,
    /// Events the batches hold.
    events: usize,
    /// The last sequence fanned out (every member may take every event up to it).
    pub(crate) position: i64,
    /// The last sequence of the batches dropped from the front: a member whose cursor is
    /// before it has lost events.
    dropped_through: i64,
    /// Set when the node stops: nothing is appended any more, and a member that has taken
    /// everything learns [`Closed::Stopping`].
    pub(crate) stopping: bool,
}

/// What the log holds after a cursor.
enum Next {
    Batch(Arc<Batch>),
    Nothing,
    Closed(Closed),
}

impl Log {
    pub(crate) fn new(position: i64) -> Self {
        Self {
            batches: VecDeque::new(),
            events: 0,
            position,
            dropped_through: position,
            stopping: false,
        }
    }

    /// Appends `batch` (every event after [`Log::position`]) and drops the oldest batches
    /// the newest `keep` events do not need.
    pub(crate) fn append(&mut self, batch: Arc<Batch>, keep: usize) {
        self.position = batch.last_sequence();
        self.events += batch.len();
        self.batches.push_back(batch);
        while let Some(oldest) = self.batches.front()
            && self.batches.len() > 1
            && self.events - oldest.len() >= keep
        {
            self.events -= oldest.len();
            self.dropped_through = oldest.last_sequence();
            self.batches.pop_front();
        }
    }

    /// Moves past `last` keeping nothing: what the tailer does when no member is joined (one
    /// that joins later starts after it).
    pub(crate) fn skip_to(&mut self, last: i64) {
        self.batches.clear();
        self.events = 0;
        self.position = last;
        self.dropped_through = last;
    }

    /// The batch after `cursor` (a batch's last sequence, or where the member joined).
    fn after(&self, cursor: i64) -> Next {
        if cursor < self.dropped_through {
            return Next::Closed(Closed::Lagged);
        }
        let index = self
            .batches
            .partition_point(|batch| batch.last_sequence() <= cursor);
        match self.batches.get(index) {
            Some(batch) => Next::Batch(Arc::clone(batch)),
            None if self.stopping => Next::Closed(Closed::Stopping),
            None => Next::Nothing,
        }
    }
}

/// Why a member's fan-out ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The member did not keep up: events after its cursor are no longer in the log.
    Lagged,
    /// The node is stopping.
    Stopping,
}

/// A connection's place in the hub: where it is in the log, and the sequence the hub had
/// fanned out up to when it joined. Leaves the hub when dropped.
pub struct Member {
    /// The last sequence of the last batch taken (where it joined, before any).
    cursor: i64,
    /// The batch being taken, and how much of it has been.
    current: Option<(Arc<Batch>, usize)>,
    /// Set once the member found it lagged (counted once, see [`Member::lag`]).
    lagged: AtomicBool,
    joined_at: i64,
    /// Changed when members should look at the log again (see `Hub::run`).
    wake: watch::Receiver<i64>,
    hub: Hub,
}

impl Member {
    pub(crate) fn new(hub: Hub, joined_at: i64, wake: watch::Receiver<i64>) -> Self {
        Self {
            cursor: joined_at,
            current: None,
            lagged: AtomicBool::new(false),
            joined_at,
            wake,
            hub,
        }
    }

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
        loop {
            // Seen before the log is read: a batch appended after the read changes it again.
            self.wake.borrow_and_update();
            if let Some(batch) = self.try_recv_batch()? {
                return Ok(batch);
            }
            if self.wake.changed().await.is_err() {
                // The hub is gone: nothing more will be appended.
                return self.try_recv_batch()?.ok_or(Closed::Stopping);
            }
        }
    }

    /// The next whole batch if the log holds one, without waiting (and without leaving a
    /// waker): `Ok(None)` when it does not, `Err` once the member lagged or the hub stopped and
    /// it has taken everything. Only once the batch last received is used up.
    pub fn try_recv_batch(&mut self) -> Result<Option<Arc<Batch>>, Closed> {
        self.current = None;
        if self.is_lagged() {
            return Err(Closed::Lagged);
        }
        let next = self.hub.log().after(self.cursor);
        match next {
            Next::Batch(batch) => {
                self.cursor = batch.last_sequence();
                self.hub.counted_delivered(batch.len());
                Ok(Some(batch))
            }
            Next::Nothing => Ok(None),
            Next::Closed(Closed::Lagged) => {
                self.lag();
                Err(Closed::Lagged)
            }
            Next::Closed(Closed::Stopping) => Err(Closed::Stopping),
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

    /// Whether this member fell behind: the log no longer holds the events after its cursor.
    /// What it holds already (the batch being taken) it need not write: a connection stops at
    /// once instead of writing to a client that cannot keep up.
    pub fn is_lagged(&self) -> bool {
        if self.lagged.load(Ordering::Relaxed) {
            return true;
        }
        let lagged = self.hub.log().dropped_through > self.cursor;
        if lagged {
            self.lag();
        }
        lagged
    }

    /// Marks the member lagged, and counts it the first time (`Hub::stats`).
    fn lag(&self) {
        if !self.lagged.swap(true, Ordering::Relaxed) {
            self.hub.counted_dropped();
        }
    }

    /// The hub this member belongs to.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.hub.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of the events numbered `sequences`.
    fn batch(sequences: std::ops::RangeInclusive<i64>) -> Arc<Batch> {
        let events = sequences
            .map(|sequence| Arc::new(Shared::new(crate::shared::event(sequence))))
            .collect();
        Arc::new(Batch::new(events))
    }

    fn first_after(log: &Log, cursor: i64) -> Result<Option<(i64, i64)>, Closed> {
        match log.after(cursor) {
            Next::Batch(batch) => Ok(Some((batch.first_sequence(), batch.last_sequence()))),
            Next::Nothing => Ok(None),
            Next::Closed(closed) => Err(closed),
        }
    }

    #[test]
    fn a_cursor_finds_the_batch_after_it_until_the_log_no_longer_holds_it() {
        let mut log = Log::new(10);
        assert_eq!(first_after(&log, 10), Ok(None));
        // Keeps at least 4 events: the newest batches that hold them.
        log.append(batch(11..=13), 4);
        log.append(batch(14..=15), 4);
        assert_eq!(log.position, 15);
        assert_eq!(first_after(&log, 10), Ok(Some((11, 13))));
        assert_eq!(first_after(&log, 13), Ok(Some((14, 15))));
        assert_eq!(first_after(&log, 15), Ok(None));
        log.append(batch(16..=17), 4);
        // 14..=17 hold the 4 events kept: 11..=13 is gone, and a cursor before it lagged.
        assert_eq!(first_after(&log, 10), Err(Closed::Lagged));
        assert_eq!(first_after(&log, 13), Ok(Some((14, 15))));
        // A batch larger than what is kept is kept whole, alone.
        log.append(batch(18..=30), 4);
        assert_eq!(first_after(&log, 17), Ok(Some((18, 30))));
        assert_eq!(first_after(&log, 15), Err(Closed::Lagged));
        // With no one joined, nothing is kept.
        log.skip_to(31);
        assert_eq!(log.position, 31);
        assert_eq!(first_after(&log, 31), Ok(None));
        log.append(batch(32..=33), 4);
        assert_eq!(first_after(&log, 31), Ok(Some((32, 33))));
        log.stopping = true;
        assert_eq!(first_after(&log, 31), Ok(Some((32, 33))));
        assert_eq!(first_after(&log, 33), Err(Closed::Stopping));
    }
}
