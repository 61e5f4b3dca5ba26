//! One realtime connection, whatever its transport: its credential, its subscriptions and its
//! [`Feed`], driven by one loop that takes, in turn, a client message, the next event, or the
//! word that its credential no longer holds (`rechecks.rs`). Everything a connection sends goes
//! through one bounded channel of [`Frame`]s that the transport (`sse.rs`, `ws.rs`) writes out;
//! when the client reads slowly the loop waits on that channel, its hub queue fills, and the hub
//! drops it as lagged.
//!
//! Events are handled in sequence order, each judged against every subscription in the order
//! they were opened, and sent as one frame (so a resume point never falls between two
//! subscriptions' share of one event). The events at hand together (a batch from the hub, a page
//! of backlog) are judged together and their frames queued at once; the transport writes what it
//! finds queued to the socket in one go. A subscription joins between two events: it receives
//! every event after the connection's position at that moment, and its acknowledgement is sent
//! only then. A snapshot first brings the connection up to the hub's position, then reads the
//! records; events after it that the snapshot already reflects (by record version) are skipped.
//!
//! A connection with nothing of its own to do parks (`connection/park.rs`): a direct writer
//! then delivers its shared runs (`direct.rs`) until anything needs its loop again.

mod park;
mod problems;
mod subscriptions;

use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_events::{Batch, Delivery, Feed, FeedError, MatchError, Shared, Step, Subscription};
use tokio::sync::mpsc;

use super::credential::{Credential, Standing, authority_changed, standing};
use super::direct::Seat;
use super::outgoing::{OutSender, Outgoing, SharedRun};
use super::protocol::{ClientMessage, Frame, SubscribeRequest, invalid};
use super::rechecks::Presented;
use super::subscribe;
use crate::AppState;
use crate::error::ApiError;
use crate::records::access::Principal;
use problems::{feed_problem, overflow};
use subscriptions::Subscriptions;

/// What a transport hands the connection loop.
pub enum Inbound {
    Message(ClientMessage),
    /// A frame the transport could not turn into a message (binary, too large, malformed).
    Problem(ApiError),
}

/// Checked subscriptions to open first, each with its snapshot limit.
pub type Initial = Vec<(Subscription, Option<u32>)>;

/// Where a connection parks.
pub type ConnectionSeat = Seat<Connection>;

/// A connection ready to run.
pub struct Connection {
    state: AppState,
    /// Its credential, presented again on the node's schedule (`rechecks.rs`).
    presented: Presented,
    standing: Standing,
    principal: Principal,
    feed: Feed,
    subscriptions: Subscriptions,
    out: OutSender,
    /// Where it parks (`None`: it never does).
    seat: Option<Arc<ConnectionSeat>>,
}

/// Events judged together at most, before their frames are queued for the transport.
const MAX_RUN: usize = 64;

/// What the first connection with the share key `key` made of `batch`, if one has.
fn made(batch: &Batch, key: &str) -> Option<Arc<SharedRun>> {
    batch
        .made()
        .get(key)
        .and_then(|made| made.downcast::<SharedRun>().ok())
}

/// Keeps `run` as what connections with the key `key` make of `batch` (`key` a share key, or a
/// span of batches ending with `batch`, see `park.rs`).
fn keep(batch: &Batch, key: &str, run: SharedRun) -> Arc<SharedRun> {
    let run = Arc::new(run);
    batch.made().keep(key, run.clone());
    run
}

/// The next client message (`None` once the transport is gone); never, for a transport that
/// sends none.
async fn next_message(inbound: &mut Option<mpsc::Receiver<Inbound>>) -> Option<Inbound> {
    match inbound {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Opens the feed after `resume` (or from now): the problem otherwise, for the transport to
/// report as it reports problems before the stream begins.
pub async fn open_feed(state: &AppState, resume: Option<i64>) -> Result<Feed, ApiError> {
    Feed::open(&state.realtime.hub, resume)
        .await
        .map_err(|e| feed_problem(e).0)
}

/// Why a connection loop ended.
enum End {
    /// The client went away; nothing more can be said.
    Gone,
    /// The server ends it with this last frame.
    Closing(ApiError, Option<i64>),
}

impl Connection {
    pub fn new(
        state: AppState,
        credential: Credential,
        principal: Principal,
        feed: Feed,
        out: OutSender,
        seat: Option<Arc<ConnectionSeat>>,
    ) -> Self {
        let standing = standing(&principal);
        let presented = state
            .realtime
            .present(&state, &credential, standing.clone());
        Self {
            seat,
            standing,
            subscriptions: Subscriptions::new(state.realtime.subscriptions.clone()),
            state,
            presented,
            principal,
            feed,
            out,
        }
    }

    /// Checks `requests` for this connection's principal: the subscriptions that passed (with
    /// their snapshot limits), and a problem for each that did not (with its request's id).
    pub fn check_all(&self, requests: &[SubscribeRequest]) -> (Initial, Vec<(ApiError, String)>) {
        let mut checked: Initial = Vec::new();
        let mut problems = Vec::new();
        for request in requests {
            match self.check(request, checked.iter().map(|(s, _)| s.id())) {
                Ok(subscription) => {
                    checked.push((subscription, request.snapshot.as_ref().map(|s| s.limit)));
                }
                Err(error) => problems.push((error, request.id.clone())),
            }
        }
        (checked, problems)
    }

    fn check<'a>(
        &'a self,
        request: &SubscribeRequest,
        pending: impl Iterator<Item = &'a str>,
    ) -> Result<Subscription, ApiError> {
        let mut ids: Vec<&str> = self.subscriptions.iter().map(Subscription::id).collect();
        ids.extend(pending);
        if ids.contains(&request.id.as_str()) {
            return Err(ApiError::new(
                ErrorCode::SubscriptionExists,
                format!(
                    "A subscription with the id `{}` is already open.",
                    request.id
                ),
                "Choose another id, or unsubscribe from this one first.",
            ));
        }
        let max = self.state.realtime.settings.max_subscriptions;
        if ids.len() >= max {
            return Err(ApiError::new(
                ErrorCode::TooManySubscriptions,
                format!("A connection may hold at most {max} subscriptions."),
                "Unsubscribe from one first, combine filters, or open another connection.",
            ));
        }
        subscribe::check(&self.state, &self.principal, request)
    }

    /// Sends the `ready` frame and an error frame per problem of the first subscriptions, opens
    /// `initial` (snapshots included unless `resuming`), then runs until the client goes, the
    /// server ends the stream, or `inbound` closes.
    pub async fn run(
        mut self,
        initial: Initial,
        problems: Vec<(ApiError, String)>,
        resuming: bool,
        mut inbound: Option<mpsc::Receiver<Inbound>>,
    ) {
        let heartbeat = self.state.realtime.settings.heartbeat.as_millis();
        let mut greeting = vec![Frame::ready(self.feed.position(), heartbeat)];
        greeting.extend(problems.iter().map(|(e, id)| Frame::error(e, Some(id))));
        let mut greeted = Ok(());
        for frame in greeting {
            greeted = self.send(frame).await;
            if greeted.is_err() {
                break;
            }
        }
        let end = match greeted {
            Err(end) => end,
            Ok(()) => match self.open_initial(initial, resuming).await {
                Err(end) => end,
                Ok(()) => {
                    let (back, end) = self.serve(&mut inbound).await;
                    self = back;
                    end
                }
            },
        };
        if let End::Closing(error, resume) = end {
            // A client that reads nothing (the usual reason for `lagged`) must not keep this
            // task alive: the last frame gets one heartbeat interval to be taken.
            let last = self.out.send(Frame::closing(&error, resume).into());
            let _ = tokio::time::timeout(self.state.realtime.settings.heartbeat, last).await;
        }
    }

    async fn open_initial(&mut self, initial: Initial, resuming: bool) -> Result<(), End> {
        for (subscription, snapshot) in initial {
            self.open(subscription, snapshot.filter(|_| !resuming))
                .await?;
        }
        Ok(())
    }

    /// Runs until the stream ends: the connection, and why it ended. While the connection has
    /// nothing of its own to do it parks, and a direct writer delivers its batches; after a
    /// writer gives it back, it takes one step of its own before parking again.
    async fn serve(mut self, inbound: &mut Option<mpsc::Receiver<Inbound>>) -> (Self, End) {
        loop {
            if let Some(seat) = self.may_park() {
                let (back, woken) = park::park(self, seat, inbound).await;
                self = back;
                let step = match woken {
                    park::Woken::GivenBack => self.step(inbound).await,
                    park::Woken::Message(Some(message)) => self.handle(message).await,
                    park::Woken::Ended(error) => {
                        let resume = Some(self.feed.position());
                        Err(End::Closing(error, resume))
                    }
                    park::Woken::Message(None) | park::Woken::Gone => Err(End::Gone),
                };
                if let Err(end) = step {
                    return (self, end);
                }
                continue;
            }
            if let Err(end) = self.step(inbound).await {
                return (self, end);
            }
        }
    }

    /// One step of the loop: a client message, the next events, the word that the credential no
    /// longer holds, or the client gone.
    async fn step(&mut self, inbound: &mut Option<mpsc::Receiver<Inbound>>) -> Result<(), End> {
        tokio::select! {
            message = next_message(inbound) => match message {
                Some(message) => self.handle(message).await,
                None => Err(End::Gone),
            },
            step = self.feed.step() => match step {
                Ok(Step::Batch(batch)) => self.deliver_batch(&batch).await,
                Ok(Step::Event(event)) => self.deliver(Ok(event)).await,
                Err(error) => self.deliver(Err(error)).await,
            },
            problem = self.presented.ended() => {
                Err(End::Closing(problem, Some(self.feed.position())))
            }
            () = self.out.closed() => Err(End::Gone),
        }
    }

    async fn send(&self, frame: Frame) -> Result<(), End> {
        self.out.send(frame.into()).await.map_err(|_| End::Gone)
    }

    /// Sends `frames` one after the other: while the channel has room this takes no wait, so
    /// the transport wakes once and finds them all.
    async fn send_run(&self, frames: Vec<Frame>) -> Result<(), End> {
        for frame in frames {
            self.send(frame).await?;
        }
        Ok(())
    }

    /// Delivers `first` and the events at hand after it (up to [`MAX_RUN`]) as one run of
    /// frames. When one of them ends the stream, what was judged before it is sent first.
    async fn deliver(&mut self, first: Result<Arc<Shared>, FeedError>) -> Result<(), End> {
        let mut frames = Vec::new();
        let mut next = Some(first);
        let mut outcome = Ok(());
        while let Some(event) = next.take() {
            outcome = self.judge(event, &mut frames).await;
            if outcome.is_err() || frames.len() >= MAX_RUN {
                break;
            }
            next = self.feed.next_ready();
        }
        if !frames.is_empty() {
            self.send_run(frames).await?;
        }
        outcome
    }

    /// Delivers a whole batch of the fan-out. When this connection's subscriptions say alone how
    /// it announces any event ([`Subscription::share_key`]), the first connection with the same
    /// subscriptions judges and encodes the batch, and every other one sends what it made.
    async fn deliver_batch(&mut self, batch: &Batch) -> Result<(), End> {
        let Some(key) = self.subscriptions.share_key() else {
            return self.deliver_each(batch).await;
        };
        let run = match made(batch, &key) {
            Some(run) => run,
            None => match self.judge_batch(batch).await {
                Ok(frames) => keep(batch, &key, SharedRun::new(frames)),
                Err((frames, end)) => {
                    self.send_run(frames).await?;
                    return Err(end);
                }
            },
        };
        if run.is_empty() {
            return Ok(());
        }
        self.out
            .send(Outgoing::Run(run))
            .await
            .map_err(|_| End::Gone)
    }

    /// Judges every event of `batch`: the frames, or those judged before an event that ends
    /// the stream, and why.
    async fn judge_batch(&mut self, batch: &Batch) -> Result<Vec<Frame>, (Vec<Frame>, End)> {
        let mut frames = Vec::new();
        for event in batch.iter() {
            if let Err(end) = self.judge(Ok(Arc::clone(event)), &mut frames).await {
                return Err((frames, end));
            }
        }
        Ok(frames)
    }

    /// Delivers a batch event by event, in runs of up to [`MAX_RUN`] frames.
    async fn deliver_each(&mut self, batch: &Batch) -> Result<(), End> {
        let mut frames = Vec::new();
        for event in batch.iter() {
            let outcome = self.judge(Ok(Arc::clone(event)), &mut frames).await;
            if outcome.is_err() || frames.len() >= MAX_RUN {
                self.send_run(std::mem::take(&mut frames)).await?;
            }
            outcome?;
        }
        self.send_run(frames).await
    }

    /// Judges one event against every subscription: its frame (if any subscription matches)
    /// and an error frame per subscription it overflowed, which is then closed.
    async fn judge(
        &mut self,
        event: Result<Arc<Shared>, FeedError>,
        frames: &mut Vec<Frame>,
    ) -> Result<(), End> {
        let event = event.map_err(|e| {
            let (error, resume) = feed_problem(e);
            End::Closing(error, resume)
        })?;
        let mut matches = Vec::new();
        let mut overflowed = Vec::new();
        for (index, subscription) in self.subscriptions.iter_mut().enumerate() {
            let judged = match event.record_for(&self.state.store, subscription.collection()) {
                Ok(record) => {
                    subscription
                        .judge(&self.state.schema, &self.state.store, &event, record)
                        .await
                }
                Err(e) => Err(MatchError::Store(e)),
            };
            match judged {
                Ok(Some(delivery)) => matches.push((index, delivery)),
                Ok(None) => {}
                Err(MatchError::Overflow) => overflowed.push(subscription.id().to_owned()),
                Err(MatchError::Store(e)) => {
                    // This event was not delivered: resume just before it.
                    return Err(End::Closing(ApiError::from(e), Some(event.sequence - 1)));
                }
            }
        }
        if !matches.is_empty() {
            let text = self.render(&event, &matches);
            frames.push(Frame::rendered(event.sequence, text));
        }
        for id in overflowed {
            self.subscriptions.retain(|s| s.id() != id);
            let error = overflow(&id, self.state.realtime.settings.max_tracked);
            frames.push(Frame::error(&error, Some(&id)));
        }
        Ok(())
    }

    /// The text of the event frame for `matches` (subscriptions by index): rendered once per
    /// event for every connection whose matches have the same ids, announcements and shapes.
    fn render(&self, event: &Shared, matches: &[(usize, Delivery)]) -> Arc<str> {
        let mut key = String::with_capacity(64);
        for (index, delivery) in matches {
            self.subscriptions[*index].render_key(*delivery, &mut key);
        }
        event.render(&key, || {
            let items = matches
                .iter()
                .map(|(index, delivery)| {
                    let subscription = &self.subscriptions[*index];
                    // Judging decrypted the record already (or failed and sent nothing).
                    let record = event
                        .record_for(&self.state.store, subscription.collection())
                        .ok()
                        .flatten()
                        .filter(|_| delivery.with_record)
                        .map(|record| subscription.shape(record));
                    (subscription.id(), delivery.announce, record)
                })
                .collect();
            Frame::event(event, items).text().into_owned()
        })
    }

    /// Opens one checked subscription: with a snapshot, first catches up with the hub, reads
    /// the records and sends them; then the acknowledgement.
    async fn open(
        &mut self,
        mut subscription: Subscription,
        snapshot: Option<u32>,
    ) -> Result<(), End> {
        if let Some(limit) = snapshot {
            let target = self.feed.hub_position();
            while self.feed.position() < target {
                let event = self.feed.next().await;
                self.deliver(event).await?;
            }
            match subscribe::snapshot(&self.state, &subscription, limit).await {
                Ok((records, versions, more)) => {
                    if subscription.note_snapshot(&versions).is_err() {
                        let max = self.state.realtime.settings.max_tracked;
                        let error = overflow(subscription.id(), max);
                        return self
                            .send(Frame::error(&error, Some(subscription.id())))
                            .await;
                    }
                    let frame =
                        Frame::snapshot(subscription.id(), self.feed.position(), records, more);
                    self.send(frame).await?;
                }
                Err(error) => {
                    return self
                        .send(Frame::error(&error, Some(subscription.id())))
                        .await;
                }
            }
        }
        let frame = Frame::subscribed(
            subscription.id(),
            &subscription.collection().name,
            self.feed.position(),
        );
        self.subscriptions.push(subscription);
        self.send(frame).await
    }

    async fn handle(&mut self, inbound: Inbound) -> Result<(), End> {
        let message = match inbound {
            Inbound::Problem(error) => return self.send(Frame::error(&error, None)).await,
            Inbound::Message(message) => message,
        };
        match message {
            ClientMessage::Ping => self.send(Frame::pong()).await,
            ClientMessage::Subscribe(request) => match self.check(&request, std::iter::empty()) {
                Ok(subscription) => {
                    self.open(subscription, request.snapshot.map(|s| s.limit))
                        .await
                }
                Err(error) => self.send(Frame::error(&error, Some(&request.id))).await,
            },
            ClientMessage::Unsubscribe { id } => {
                let before = self.subscriptions.len();
                self.subscriptions.retain(|s| s.id() != id);
                if self.subscriptions.len() == before {
                    let error = ApiError::new(
                        ErrorCode::SubscriptionNotFound,
                        format!(
                            "No subscription with the id `{}` is open.",
                            id.chars().take(64).collect::<String>()
                        ),
                        "Use the id of a subscription this connection opened.",
                    );
                    return self.send(Frame::error(&error, None)).await;
                }
                self.send(Frame::unsubscribed(&id)).await
            }
            ClientMessage::Auth(auth) => {
                if auth.resume.is_some() || !auth.subscriptions.is_empty() {
                    let error =
                        invalid("`resume` and `subscriptions` belong to the first message only.");
                    return self.send(Frame::error(&error, None)).await;
                }
                let credential = Credential::from_token(auth.token);
                match credential.principal(&self.state).await {
                    Err(error) => self.send(Frame::error(&error, None)).await,
                    Ok(principal) if standing(&principal) != self.standing => Err(End::Closing(
                        authority_changed(),
                        Some(self.feed.position()),
                    )),
                    Ok(principal) => {
                        self.presented.replace(&credential);
                        self.principal = principal;
                        Ok(())
                    }
                }
            }
        }
    }
}
