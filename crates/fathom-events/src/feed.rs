//! [`Feed`]: one connection's ordered stream of events: the backlog after its resume point, read
//! from the store, then the hub's live fan-out, with no gap and no duplicate.
//!
//! The connection joins the hub first (so nothing committed from then on can be missed), then
//! reads the store from its resume point up to the sequence the hub had reached at the join, and
//! then takes the hub's log, dropping anything at or below the position it has delivered. Because
//! every node follows the same outbox, a resume point from one node means the same on another.

use std::collections::VecDeque;
use std::sync::Arc;

use fathom_store::{Event, StoreError};

use crate::Shared;
use crate::hub::{Batch, Hub, TAIL_BATCH};
use crate::member::{Closed, Member};

/// Why a feed cannot start or continue.
#[derive(Debug)]
pub enum FeedError {
    /// The events after the resume point are no longer retained (`oldest` is the oldest kept).
    ResyncRequired { resume: i64, oldest: i64 },
    /// The resume point is after the latest event.
    FromTheFuture { resume: i64, latest: i64 },
    /// The connection did not keep up; it may resume after `resume`.
    Lagged { resume: i64 },
    /// The node is stopping; the connection may resume after `resume` (on any node).
    Stopping { resume: i64 },
    /// The store failed.
    Store(StoreError),
}

/// What [`Feed::step`] hands out next.
pub enum Step {
    /// One event: from the backlog, or what is left of a batch begun before.
    Event(Arc<Shared>),
    /// A whole batch of the hub's fan-out, every event of it after the feed's position (which
    /// is now its last): connections that see it alike may share what they make of it.
    Batch(Arc<Batch>),
}

/// What [`Feed::try_batch`] found.
pub enum Ready {
    /// A whole batch, every event of it after the feed's position (which is now its last).
    Batch(Arc<Batch>),
    /// Nothing in the log after the feed yet.
    Nothing,
    /// Something [`Feed::step`] must hand out (or report).
    Step,
}

/// A connection's ordered events.
pub struct Feed {
    member: Member,
    /// The last sequence handed out (or the resume point).
    position: i64,
    /// Backlog events read but not handed out yet.
    buffered: VecDeque<Event>,
}

impl Feed {
    /// Joins `hub` and positions the feed after `resume` (the last sequence the client holds),
    /// or at the hub's position when there is none. `None` once the node is stopping.
    pub async fn open(hub: &Hub, resume: Option<i64>) -> Result<Self, FeedError> {
        let member = hub.join().ok_or(FeedError::Stopping {
            resume: resume.unwrap_or_else(|| hub.position()),
        })?;
        let position = match resume {
            None => member.joined_at(),
            Some(resume) => {
                let page = hub
                    .store()
                    .events_after(resume, 1, None)
                    .await
                    .map_err(FeedError::Store)?;
                if resume > page.latest.max(member.joined_at()) {
                    return Err(FeedError::FromTheFuture {
                        resume,
                        latest: page.latest.max(member.joined_at()),
                    });
                }
                if resume < page.latest && resume < page.oldest - 1 {
                    return Err(FeedError::ResyncRequired {
                        resume,
                        oldest: page.oldest,
                    });
                }
                resume
            }
        };
        Ok(Self {
            member,
            position,
            buffered: VecDeque::new(),
        })
    }

    /// The last sequence handed out: the point to resume after.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// The sequence the hub has fanned out up to now (at least what this feed will reach
    /// without waiting for new writes).
    pub fn hub_position(&self) -> i64 {
        self.member.hub().position()
    }

    /// The next event in sequence order, if it is at hand (read from the store or received
    /// from the hub already): what a connection writes together with the event before it.
    /// `None` when the next event needs a wait (then [`Feed::next`] waits for it).
    pub fn next_ready(&mut self) -> Option<Result<Arc<Shared>, FeedError>> {
        if self.member.is_lagged() {
            return Some(Err(FeedError::Lagged {
                resume: self.position,
            }));
        }
        if self.position < self.member.joined_at() {
            let event = self.buffered.pop_front()?;
            self.position = event.sequence;
            return Some(Ok(Arc::new(Shared::new(event))));
        }
        while let Some(event) = self.member.take_ready() {
            if event.sequence > self.position {
                self.position = event.sequence;
                return Some(Ok(event));
            }
        }
        None
    }

    /// The next events in sequence order: a whole batch of the fan-out when the feed is live
    /// and between batches, one event otherwise.
    pub async fn step(&mut self) -> Result<Step, FeedError> {
        if self.position < self.member.joined_at()
            || self.member.is_lagged()
            || !self.member.is_between_batches()
        {
            return self.next().await.map(Step::Event);
        }
        let batch = self
            .member
            .recv_batch()
            .await
            .map_err(|closed| self.closed(closed))?;
        match (batch.first(), batch.last()) {
            (Some(first), Some(last)) if first.sequence > self.position => {
                self.position = last.sequence;
                Ok(Step::Batch(batch))
            }
            _ => {
                // Events this feed already handed out (read from the store) lead the batch.
                self.member.take_from(batch);
                self.next().await.map(Step::Event)
            }
        }
    }

    /// The next whole batch of the fan-out if the log holds one already, without waiting (and
    /// without leaving a waker): what [`Feed::step`] would hand out as [`Step::Batch`] at once.
    /// When the next step is anything else (backlog, part of a batch, the fan-out's end), the
    /// feed is left as it was, for [`Feed::step`] to hand it out.
    pub fn try_batch(&mut self) -> Ready {
        if !self.is_idle_live() {
            return Ready::Step;
        }
        let batch = match self.member.try_recv_batch() {
            Ok(Some(batch)) => batch,
            Ok(None) => return Ready::Nothing,
            Err(_) => return Ready::Step,
        };
        match (batch.first(), batch.last()) {
            (Some(first), Some(last)) if first.sequence > self.position => {
                self.position = last.sequence;
                Ready::Batch(batch)
            }
            _ => {
                self.member.take_from(batch);
                Ready::Step
            }
        }
    }

    /// Hands `batch`, taken with [`Feed::try_batch`] and not delivered, back: the feed is
    /// positioned before it again and [`Feed::step`] hands its events out one by one.
    pub fn put_back(&mut self, batch: Arc<Batch>) {
        if let Some(first) = batch.first() {
            self.position = first.sequence - 1;
        }
        self.member.take_from(batch);
    }

    /// Whether the feed is live (its backlog read, not lagged) with nothing at hand: its next
    /// events come as whole batches of the fan-out (or as the fan-out's end).
    pub fn is_idle_live(&self) -> bool {
        self.position >= self.member.joined_at()
            && !self.member.is_lagged()
            && self.member.is_between_batches()
    }

    fn closed(&self, closed: Closed) -> FeedError {
        match closed {
            Closed::Lagged => FeedError::Lagged {
                resume: self.position,
            },
            Closed::Stopping => FeedError::Stopping {
                resume: self.position,
            },
        }
    }

    /// The next event in sequence order.
    pub async fn next(&mut self) -> Result<Arc<Shared>, FeedError> {
        if self.member.is_lagged() {
            return Err(FeedError::Lagged {
                resume: self.position,
            });
        }
        if self.position < self.member.joined_at() {
            if self.buffered.is_empty() {
                let page = self
                    .member
                    .hub()
                    .store()
                    .events_after(self.position, TAIL_BATCH, None)
                    .await
                    .map_err(FeedError::Store)?;
                if page
                    .events
                    .first()
                    .is_none_or(|e| e.sequence != self.position + 1)
                {
                    // Pruned while this connection was reading its backlog.
                    return Err(FeedError::ResyncRequired {
                        resume: self.position,
                        oldest: page.oldest,
                    });
                }
                self.buffered.extend(
                    page.events
                        .into_iter()
                        .take_while(|e| e.sequence <= self.member.joined_at()),
                );
            }
            if let Some(event) = self.buffered.pop_front() {
                self.position = event.sequence;
                return Ok(Arc::new(Shared::new(event)));
            }
        }
        loop {
            let event = self
                .member
                .recv()
                .await
                .map_err(|closed| self.closed(closed))?;
            if event.sequence > self.position {
                self.position = event.sequence;
                return Ok(event);
            }
        }
    }
}
