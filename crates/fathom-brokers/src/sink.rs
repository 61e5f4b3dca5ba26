//! A sink's task: hold the lease on its cursor, read the outbox after the cursor's position,
//! publish every selected event in sequence order (a window of up to `in_flight` messages
//! awaiting the broker's acknowledgements, which come in order), then advance the cursor; stand
//! by while another node holds the lease. A broker that fails is retried, the same event again,
//! on its own, on the shared
//! [`Backoff`] and [`Breaker`] (never giving up: the outbox keeps the backlog, and the cursor
//! does not move past an event the broker has not taken).
//!
//! Delivery is at least once: a crash between the broker's acknowledgement and the cursor's
//! advance republishes at most one page, with the same message ids (JetStream discards them
//! within its duplicate window; RabbitMQ consumers see the same `message_id`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_core::outbound::{Backoff, Breaker};
use fathom_schema::Schema;
use fathom_store::following::{Following, Held, wait_or_stop};
use fathom_store::{Lease, Store};
use tokio::sync::watch;

use crate::client::{Client, PublishError};
use crate::payload::Message;
use crate::spec::SinkSpec;
use crate::status::{Role, SinkStatus};

/// The schema served now (it changes on reload), for stripping hidden fields.
pub type SchemaSource = Arc<dyn Fn() -> Arc<Schema> + Send + Sync>;

/// Events read from the outbox at a time; the cursor advances once per page.
const PAGE: usize = 200;
/// Retries of a failed publish: from 100 ms doubling to 30 s, jittered, forever.
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_secs(30),
    retries: u32::MAX,
};
/// The breaker opens after this many consecutive failures...
const BREAKER_THRESHOLD: u32 = 5;
/// ...and lets one probe through after this long.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(5);

/// What every sink of a node shares.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub schema: SchemaSource,
    /// This node's name for leases (unique per process).
    pub holder: String,
    /// How long a lease lasts unless renewed; another node takes over this long after the
    /// holder stops renewing.
    pub lease_ttl: Duration,
}

/// Runs one sink until `stop` turns true; releases its lease on the way out.
pub async fn run(
    spec: SinkSpec,
    status: Arc<SinkStatus>,
    context: Context,
    mut stop: watch::Receiver<bool>,
) {
    let mut worker = Worker {
        cursor: spec.cursor_name(),
        spec,
        status,
        context,
        client: None,
        window: 1,
        breaker: Breaker::new(BREAKER_THRESHOLD, BREAKER_COOLDOWN),
    };
    // A new sink starts at the outbox's latest event: it publishes what is committed from
    // now on, not the retained history (set its cursor back, `Store::cursor_set`, to replay).
    // The latest sequence is read from the database: a node's watch may not know it yet.
    let store = &worker.context.store;
    let latest = match store.events_after(0, 1, None).await {
        Ok(page) => page.latest,
        Err(_) => *store.event_watch().borrow(),
    };
    if let Err(e) = worker
        .context
        .store
        .cursor_init(&worker.cursor, latest)
        .await
    {
        tracing::warn!(sink = %worker.cursor, error = %e.detail, "cannot create the sink's cursor");
    }
    while !*stop.borrow() {
        let acquired = worker
            .context
            .store
            .cursor_acquire(
                &worker.cursor,
                &worker.context.holder,
                worker.context.lease_ttl,
            )
            .await;
        match acquired {
            Ok(Some(lease)) => {
                worker.status.update(|r| {
                    r.role = Role::Publishing;
                    r.position = lease.position;
                });
                tracing::info!(sink = %worker.cursor, position = lease.position, "publishing: this node holds the sink's lease");
                worker.connect_early().await;
                match worker.publish_while_held(lease, &mut stop).await {
                    Held::Lost => {
                        tracing::info!(sink = %worker.cursor, "the sink's lease was lost; standing by")
                    }
                    Held::Stopping => break,
                }
            }
            Ok(None) => worker.stand_by().await,
            Err(e) => {
                tracing::warn!(sink = %worker.cursor, error = %e.detail, "cannot take the sink's lease");
            }
        }
        worker.client = None;
        worker.status.update(|r| r.connected = false);
        // A standby node asks again a few times per lease: it takes over within about a lease
        // of the holder's last renewal.
        let pause = worker.context.lease_ttl / 4;
        if wait_or_stop(&mut stop, pause).await {
            break;
        }
    }
    worker.status.update(|r| {
        r.role = Role::Stopped;
        r.connected = false;
    });
}

struct Worker {
    spec: SinkSpec,
    cursor: String,
    status: Arc<SinkStatus>,
    context: Context,
    client: Option<Client>,
    /// How many messages may await their acknowledgement now (see `publish_window`).
    window: usize,
    breaker: Breaker,
}

impl Worker {
    /// Connects as soon as this node holds the lease, so that `/ready` and the admin API show
    /// whether the broker is reachable (and why not: a wrong URL, a refused login) before the
    /// first event is published. A failure here only reports: the first publish connects again
    /// and retries as usual.
    async fn connect_early(&mut self) {
        match self.connected().await {
            Ok(_) => self.status.update(|r| {
                r.connected = true;
                r.last_error = None;
            }),
            Err(e) => {
                tracing::warn!(sink = %self.cursor, error = %e, "cannot connect to the broker; the next publish tries again");
                self.status.update(|r| {
                    r.connected = false;
                    r.last_error = Some(e.to_string());
                });
            }
        }
    }

    /// Another node publishes: show where it is.
    async fn stand_by(&mut self) {
        let store = &self.context.store;
        let cursor = store.cursor_get(&self.cursor).await;
        let latest = *store.event_watch().borrow();
        self.status.update(|r| {
            r.role = Role::Standby;
            r.connected = false;
            r.latest = latest;
            if let Ok(Some(cursor)) = cursor {
                r.position = cursor.position;
            }
        });
    }

    async fn publish_while_held(&mut self, lease: Lease, stop: &mut watch::Receiver<bool>) -> Held {
        let mut following = Following::new(&self.context.store, lease);
        loop {
            let page = match following.next_page(PAGE, stop).await {
                Ok(page) => page,
                Err(held) => return held,
            };
            self.status.update(|r| r.latest = page.latest);
            let Some(last) = page.events.last().map(|e| e.sequence) else {
                continue;
            };
            let schema = (self.context.schema)();
            let messages: Vec<Message> = page
                .events
                .into_iter()
                .filter(|event| self.spec.selection.takes(event))
                .map(|event| Message::of(event, &schema))
                .collect();
            let mut next = 0;
            while next < messages.len() {
                let (taken, failure) = self.publish_window(&messages[next..]).await;
                next += taken;
                if taken > 0 {
                    self.taken(taken, messages[next - 1].sequence);
                }
                let Some(failure) = failure else { continue };
                // Whatever the failure, the message it stopped at goes alone, retried until the
                // broker takes it; the window then opens again from one.
                let message = &messages[next];
                if let Err(held) = self.publish(message, failure, &mut following, stop).await {
                    if let Held::Stopping = held {
                        // Keep what was published, so a restart does not publish it again: every
                        // event before this message was published or not selected.
                        let done = message.sequence.saturating_sub(1);
                        if done > following.lease.position {
                            let _ = following.advance(done).await;
                        }
                        following.release().await;
                    }
                    return held;
                }
                next += 1;
                self.taken(1, message.sequence);
            }
            self.status.update(|r| r.position = last);
            match following.advance(last).await {
                Ok(true) => {}
                Ok(false) => return Held::Lost,
                Err(e) => {
                    // The events are published; a failed advance only means they may be
                    // published again (same ids) after a takeover.
                    tracing::warn!(sink = %self.cursor, error = %e.detail, "cannot advance the sink's cursor");
                }
            }
        }
    }

    /// Sends `messages` in order, keeping up to the window's size awaiting their acknowledgement,
    /// until all are taken or one fails; returns how many the broker took (always a prefix: the
    /// acknowledgements come in the order of sending) and the failure that stopped it, if any.
    ///
    /// Each message sent while its predecessor awaits its acknowledgement is conditional on it
    /// where the broker allows (JetStream), so a refused message is never overtaken by the next.
    /// The window starts at one message on a new connection and after a failure, and grows by
    /// one with each acknowledgement up to the sink's `in_flight`.
    async fn publish_window(&mut self, messages: &[Message]) -> (usize, Option<PublishError>) {
        let in_flight = self.spec.in_flight.max(1);
        let client = match connected(&mut self.client, &mut self.window, &self.spec.target).await {
            Ok(client) => client,
            Err(e) => return (0, Some(e)),
        };
        let mut window = self.window;
        let mut pending = VecDeque::new();
        let (mut sent, mut taken) = (0, 0);
        while taken < messages.len() {
            while sent < messages.len() && pending.len() < window {
                let after = (sent > taken).then(|| messages[sent - 1].id.as_str());
                match client.send(&messages[sent], after).await {
                    Ok(ack) => pending.push_back(ack),
                    Err(e) => return (taken, Some(e)),
                }
                sent += 1;
            }
            let Some(ack) = pending.pop_front() else {
                break;
            };
            if let Err(e) = ack.acknowledged().await {
                return (taken, Some(e));
            }
            taken += 1;
            window = (window + 1).min(in_flight);
        }
        self.window = window;
        (taken, None)
    }

    /// `count` more messages taken, the last of them `sequence`.
    fn taken(&mut self, count: usize, sequence: i64) {
        self.breaker.success();
        let breaker = self.breaker.state(Instant::now()).as_str();
        self.status.update(|r| {
            r.published += count as u64;
            r.position = sequence;
            r.failures = 0;
            r.last_error = None;
            r.connected = true;
            r.breaker = breaker;
        });
    }

    /// Publishes one message on its own, after `failure` stopped a window at it, retrying until
    /// the broker takes it; between attempts the lease is renewed, so a long outage does not hand
    /// the sink to another node. A message refused only for its turn is sent again at once.
    async fn publish(
        &mut self,
        message: &Message,
        failure: PublishError,
        following: &mut Following,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Held> {
        self.window = 1;
        let mut retry = 0u32;
        let mut outcome = (!failure.is_out_of_turn()).then_some(Err(failure));
        loop {
            if outcome.is_none() && self.breaker.try_call(Instant::now()) {
                outcome = Some(self.attempt(message).await);
            }
            match outcome.take() {
                Some(Ok(())) => {
                    if retry > 0 {
                        tracing::info!(sink = %self.cursor, sequence = message.sequence, retries = retry, "the broker is back; publishing the backlog");
                    }
                    return Ok(());
                }
                Some(Err(e)) => {
                    self.client = None;
                    self.breaker.failure(Instant::now());
                    if retry == 0 {
                        tracing::warn!(sink = %self.cursor, sequence = message.sequence, error = %e, "publishing failed; retrying with backoff");
                    }
                    self.status.update(|r| {
                        r.failures = r.failures.saturating_add(1);
                        r.last_error = Some(e.to_string());
                        r.connected = false;
                        r.breaker = self.breaker.state(Instant::now()).as_str();
                    });
                }
                None => {}
            }
            let now = Instant::now();
            let backoff = BACKOFF.jittered(retry).unwrap_or(BACKOFF.cap);
            let breaker = self
                .breaker
                .retry_at(now)
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
            retry = retry.saturating_add(1);
            let lease_left = self.context.lease_ttl / 3;
            let pause = backoff
                .max(breaker)
                .min(lease_left)
                .max(Duration::from_millis(10));
            if wait_or_stop(stop, pause).await {
                return Err(Held::Stopping);
            }
            self.status
                .update(|r| r.breaker = self.breaker.state(Instant::now()).as_str());
            following.renew_or_lost().await?;
        }
    }

    async fn attempt(&mut self, message: &Message) -> Result<(), PublishError> {
        let client = self.connected().await?;
        client.send(message, None).await?.acknowledged().await
    }

    /// The sink's connection, made now if there is none (see [`connected`]).
    async fn connected(&mut self) -> Result<&mut Client, PublishError> {
        connected(&mut self.client, &mut self.window, &self.spec.target).await
    }
}

/// `client`, connected now if it is not; a new connection's window starts at one message.
/// (Takes the worker's fields apart, so the caller may use the others while it holds the
/// connection.)
async fn connected<'a>(
    client: &'a mut Option<Client>,
    window: &mut usize,
    target: &crate::spec::Target,
) -> Result<&'a mut Client, PublishError> {
    if client.is_none() {
        *client = Some(Client::connect(target).await?);
        *window = 1;
    }
    client
        .as_mut()
        .ok_or_else(|| PublishError::new("not connected", ""))
}
