//! Delivery. [`Webhooks::run`] is the supervisor: it keeps one worker per enabled endpoint
//! (restarting it when the endpoint changes, stopping it when it is disabled or removed). A
//! worker takes its endpoint's cursor lease (`webhook:<id>`; on PostgreSQL one node at a time
//! holds it, the others retry and take over within a lease once the holder stops renewing),
//! then delivers the events after the cursor in sequence order, `in_flight` at a time, each
//! retried on the backoff schedule until delivered or dead-lettered, and advances the cursor
//! after each group. Queued replays go first. Workers share nothing but the store and the
//! HTTP client's pool, so one slow or failing endpoint never delays another.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fathom_schema::Schema;
use fathom_store::{AttemptRow, DeadLetter, Event, Lease};

use futures_util::future::join_all;

use crate::Webhooks;
use crate::deliver::{Message, Outcome, attempt};
use crate::endpoint::{Endpoint, Selection};
use crate::stats::Tracked;
use crate::{now_ms, payload};

/// Events read from the outbox at a time.
const PAGE: usize = 200;
/// How often a worker delivering a backlog writes its cursor (and its log of successes).
const ADVANCE_EVERY: Duration = Duration::from_millis(100);

/// A task stopped when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How delivering one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Final {
    Delivered,
    Dead,
    /// `410 Gone`: the endpoint is disabled.
    Gone,
    /// The lease was lost: stop, the new holder delivers it.
    Lost,
}

impl Webhooks {
    /// The supervisor: runs until the task is aborted (with the server).
    pub async fn run(self: Arc<Self>) {
        let mut running: HashMap<String, (i64, AbortOnDrop)> = HashMap::new();
        let mut changes = self.changed.subscribe();
        loop {
            // Marked seen before the endpoints are read: a change made after this wakes the
            // next look instead of being lost while this one reads.
            let seen = *changes.borrow_and_update();
            match self.store.webhooks().await {
                Ok(rows) => {
                    self.forget_breakers(&rows);
                    let mut wanted = HashMap::new();
                    for row in rows {
                        match Endpoint::from_row(&row) {
                            Ok(e) if e.spec.enabled => {
                                wanted.insert(e.id.clone(), e);
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(endpoint = %row.id, error = %e, "skipping an unreadable webhook endpoint")
                            }
                        }
                    }
                    running.retain(|id, (version, _)| {
                        wanted.get(id).is_some_and(|e| e.updated_at_ms == *version)
                    });
                    for (id, endpoint) in wanted {
                        if let std::collections::hash_map::Entry::Vacant(slot) = running.entry(id) {
                            let version = endpoint.updated_at_ms;
                            let task = tokio::spawn(self.clone().endpoint_worker(endpoint, seen));
                            slot.insert((version, AbortOnDrop(task)));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading the webhook endpoints failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = changes.changed() => {}
            }
        }
    }

    /// One endpoint's worker: take the lease, deliver while holding it, and try again. `seen` is
    /// the count of changes `endpoint` was read after; when it moves, the endpoint is read again
    /// before anything more is delivered.
    async fn endpoint_worker(self: Arc<Self>, mut endpoint: Endpoint, mut seen: u64) {
        let name = Endpoint::cursor(&endpoint.id);
        let ttl = self.settings.lease;
        loop {
            match self.store.cursor_acquire(&name, &self.holder, ttl).await {
                Ok(Some(lease)) => {
                    let lost = Arc::new(AtomicBool::new(false));
                    let _keeper =
                        AbortOnDrop(tokio::spawn(self.clone().keep(lease.clone(), lost.clone())));
                    let _tracked = Tracked::start(&self, &endpoint.id, lease.position);
                    if let Err(e) = self.deliver_under(&endpoint, lease, &lost, seen).await {
                        tracing::warn!(endpoint = %endpoint.id, error = %e, "webhook delivery paused");
                    }
                    if self.outdated(seen) {
                        let now = *self.changed.borrow();
                        match self.store.webhook(&endpoint.id).await {
                            Ok(row) => match row.map(|r| Endpoint::from_row(&r)) {
                                Some(Ok(fresh)) if fresh.spec.enabled => {
                                    (endpoint, seen) = (fresh, now);
                                    continue;
                                }
                                _ => return,
                            },
                            Err(e) => {
                                tracing::warn!(endpoint = %endpoint.id, error = %e, "reading the changed webhook endpoint failed");
                            }
                        }
                    }
                    if !endpoint_enabled(&self, &endpoint.id).await {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(None) => tokio::time::sleep(ttl / 3).await,
                Err(e) => {
                    tracing::warn!(endpoint = %endpoint.id, error = %e, "taking the webhook cursor lease failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Renews the lease every third of its term; marks it lost when another holder took it
    /// or the cursor was moved (replay by position), or when renewing fails for a whole term.
    async fn keep(self: Arc<Self>, lease: Lease, lost: Arc<AtomicBool>) {
        let mut last_ok = Instant::now();
        loop {
            tokio::time::sleep(lease.ttl / 3).await;
            match self
                .store
                .cursor_acquire(&lease.name, &lease.holder, lease.ttl)
                .await
            {
                Ok(Some(now)) if now.generation == lease.generation => last_ok = Instant::now(),
                Ok(_) => break,
                Err(_) if last_ok.elapsed() < lease.ttl => {}
                Err(_) => break,
            }
        }
        lost.store(true, Ordering::Release);
    }

    /// Delivers while the lease holds; returns when it is lost, the endpoint is disabled by a
    /// `410`, or the store fails.
    async fn deliver_under(
        &self,
        endpoint: &Endpoint,
        mut lease: Lease,
        lost: &AtomicBool,
        seen: u64,
    ) -> Result<(), fathom_store::StoreError> {
        let mut watch = self.store.event_watch();
        let mut schema: Option<(i64, Arc<Schema>, Selection)> = None;
        loop {
            if lost.load(Ordering::Acquire) || self.outdated(seen) {
                return Ok(());
            }
            let (schema_now, selection) = self.selection(endpoint, &mut schema).await?;
            // Replays first: an administrator asked for them. A replayed range goes through the
            // endpoint's selection like the outbox does: a tenant-bound endpoint never receives
            // another tenant's events, whatever range is replayed.
            for seq in self.store.webhook_replays(&endpoint.id, 50).await? {
                let page = self.store.events_after(seq - 1, 1, None).await?;
                if let Some(event) = page
                    .events
                    .into_iter()
                    .find(|e| e.sequence == seq && selection.selects(e))
                {
                    match self.deliver(endpoint, &schema_now, event, lost).await? {
                        Final::Lost => return Ok(()),
                        Final::Gone => return self.disable(endpoint).await,
                        Final::Delivered | Final::Dead => {}
                    }
                }
                self.store.webhook_replay_done(&endpoint.id, seq).await?;
            }
            self.flush_log().await;
            let page = self.store.events_after(lease.position, PAGE, None).await?;
            if page.oldest > lease.position + 1 && lease.position > 0 {
                tracing::warn!(endpoint = %endpoint.id, position = lease.position, oldest = page.oldest, "events were pruned before this endpoint received them (it was disabled meanwhile); continuing from the oldest kept event");
            }
            let Some(last) = page.events.last().map(|e| e.sequence) else {
                tokio::select! {
                    _ = watch.changed() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            // The cursor moves after each group is delivered, but is written at most every
            // ADVANCE_EVERY (and at the end of the page): a crash re-delivers at most that much,
            // with the same webhook-ids, and the store sees a few writes a second per endpoint
            // instead of one per message.
            let mut group: Vec<Event> = Vec::new();
            let mut written_at = Instant::now();
            for event in page.events {
                let seq = event.sequence;
                if selection.selects(&event) {
                    group.push(event);
                }
                if group.len() >= self.settings.in_flight.max(1) {
                    if self.outdated(seen)
                        || !self
                            .deliver_group(endpoint, &schema_now, &mut group, lost)
                            .await?
                    {
                        return Ok(());
                    }
                    if written_at.elapsed() >= ADVANCE_EVERY {
                        self.flush_log().await;
                        if !self.advance(endpoint, &mut lease, seq).await? {
                            return Ok(());
                        }
                        written_at = Instant::now();
                    }
                }
            }
            if self.outdated(seen)
                || !self
                    .deliver_group(endpoint, &schema_now, &mut group, lost)
                    .await?
            {
                return Ok(());
            }
            self.flush_log().await;
            if last > lease.position && !self.advance(endpoint, &mut lease, last).await? {
                return Ok(());
            }
        }
    }

    /// Moves the cursor to `seq` and notes the position for the metrics; `false` when the lease
    /// was lost.
    async fn advance(
        &self,
        endpoint: &Endpoint,
        lease: &mut Lease,
        seq: i64,
    ) -> Result<bool, fathom_store::StoreError> {
        let kept = self.store.cursor_advance(lease, seq).await?;
        if kept {
            self.set_position(&endpoint.id, lease.position);
        }
        Ok(kept)
    }

    /// The applied schema and the endpoint's selection checked against it, read again when
    /// the applied migration changes.
    async fn selection(
        &self,
        endpoint: &Endpoint,
        cached: &mut Option<(i64, Arc<Schema>, Selection)>,
    ) -> Result<(Arc<Schema>, Selection), fathom_store::StoreError> {
        let applied = self.store.applied().await?;
        let version = applied.as_ref().map_or(0, |a| a.version);
        if let Some((v, schema, selection)) = cached.as_ref()
            && *v == version
        {
            return Ok((schema.clone(), selection.clone()));
        }
        let schema = Arc::new(applied.map(|a| a.schema).unwrap_or_default());
        // A selection the schema no longer supports (a collection dropped) selects nothing of
        // what is gone; the rest of it keeps working.
        let mut spec = endpoint.spec.clone();
        spec.collections.retain(|c| schema.collection(c).is_some());
        let selection = Selection::check(&spec, &schema).unwrap_or_else(|e| {
            tracing::warn!(endpoint = %endpoint.id, error = %e, "the webhook's filter no longer checks; it selects nothing until fixed");
            Selection::nothing()
        });
        *cached = Some((version, schema.clone(), selection.clone()));
        Ok((schema, selection))
    }

    /// Delivers a group concurrently (each message in order of its own retries); `false` when
    /// the worker must stop (lease lost, endpoint gone).
    async fn deliver_group(
        &self,
        endpoint: &Endpoint,
        schema: &Schema,
        group: &mut Vec<Event>,
        lost: &AtomicBool,
    ) -> Result<bool, fathom_store::StoreError> {
        if group.is_empty() {
            return Ok(true);
        }
        let results = join_all(
            group
                .drain(..)
                .map(|e| self.deliver(endpoint, schema, e, lost)),
        )
        .await;
        let mut keep_going = true;
        for result in results {
            match result? {
                Final::Lost => keep_going = false,
                Final::Gone => {
                    self.disable(endpoint).await?;
                    keep_going = false;
                }
                Final::Delivered | Final::Dead => {}
            }
        }
        Ok(keep_going)
    }

    /// Delivers one message: attempts on the retry schedule, behind the breaker, until it is
    /// delivered, dead-lettered, refused for good (`410`) or the lease is lost.
    async fn deliver(
        &self,
        endpoint: &Endpoint,
        schema: &Schema,
        event: Event,
        lost: &AtomicBool,
    ) -> Result<Final, fathom_store::StoreError> {
        let (seq, event_id) = (event.sequence, event.id.to_string());
        let body = payload::body(schema, event);
        let mut retry = 0u32;
        loop {
            // The breaker lets a call through, or says when it will.
            loop {
                if lost.load(Ordering::Acquire) {
                    return Ok(Final::Lost);
                }
                let now = Instant::now();
                let wait = self.with_breaker(&endpoint.id, |b| {
                    (!b.try_call(now)).then(|| {
                        b.retry_at(now)
                            .map_or(Duration::from_millis(100), |t| t - now)
                    })
                });
                match wait {
                    None => break,
                    Some(wait) => pause(wait, lost).await,
                }
            }
            let outcome = self.attempt(endpoint, &event_id, &body).await;
            let now = Instant::now();
            self.with_breaker(&endpoint.id, |b| {
                if outcome.delivered() {
                    b.success();
                } else {
                    b.failure(now);
                }
            });
            self.persist_breaker(&endpoint.id).await;
            let next = if outcome.delivered() || outcome.gone() {
                None
            } else {
                self.settings.retry.jittered(retry)
            };
            let verdict = match (outcome.delivered(), outcome.gone(), next) {
                (true, _, _) => "delivered",
                (_, true, _) => "gone",
                (_, _, None) => "dead",
                _ => "failed",
            };
            self.log(endpoint, seq, &event_id, retry + 1, &outcome, verdict)
                .await;
            self.deliveries.count(verdict);
            match verdict {
                "delivered" => return Ok(Final::Delivered),
                "gone" => return Ok(Final::Gone),
                "dead" => {
                    self.store
                        .webhook_dead_letter(DeadLetter {
                            endpoint: endpoint.id.clone(),
                            seq,
                            event_id: event_id.clone(),
                            at_ms: now_ms(),
                            attempts: i64::from(retry + 1),
                            last_error: summary(&outcome),
                        })
                        .await?;
                    return Ok(Final::Dead);
                }
                _ => {}
            }
            let backoff = next.unwrap_or_default();
            let wait = outcome
                .retry_after
                .map_or(backoff, |r| r.min(self.settings.max_retry_after));
            pause(wait, lost).await;
            retry += 1;
        }
    }

    /// One attempt to the endpoint's URL, checked by the SSRF guard first.
    pub(crate) async fn attempt(&self, endpoint: &Endpoint, id: &str, body: &[u8]) -> Outcome {
        let started = Instant::now();
        let started_at_ms = now_ms();
        let url = match self.guard.check(&endpoint.spec.url).await {
            Ok(url) => url,
            Err(e) => {
                return Outcome {
                    started_at_ms,
                    status: None,
                    duration: started.elapsed(),
                    response: String::new(),
                    error: Some(e.message),
                    retry_after: None,
                };
            }
        };
        let secrets = endpoint.secrets.live(now_ms());
        let keys: Vec<&[u8]> = secrets.iter().map(|s| s.key()).collect();
        let message = Message {
            id,
            timestamp: time::OffsetDateTime::now_utc().unix_timestamp(),
            body,
        };
        attempt(&self.client, &url, &keys, &message).await
    }

    /// Appends an attempt to the log; a failure to log is logged, not fatal.
    pub(crate) async fn log(
        &self,
        endpoint: &Endpoint,
        seq: i64,
        event_id: &str,
        attempt: u32,
        outcome: &Outcome,
        verdict: &str,
    ) {
        let row = AttemptRow {
            id: 0,
            endpoint: endpoint.id.clone(),
            seq,
            event_id: event_id.to_owned(),
            attempt: i64::from(attempt),
            // When it started: attempts spaced by a cool-down show that spacing, whatever
            // writing the breaker's state cost after each.
            at_ms: outcome.started_at_ms,
            status: outcome.status.map(i64::from),
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
            response: outcome.response.clone(),
            error: outcome.error.clone(),
            outcome: verdict.to_owned(),
        };
        tracing::info!(endpoint = %endpoint.id, seq, attempt, status = ?outcome.status, duration_ms = row.duration_ms, outcome = verdict, "webhook attempt");
        if verdict == "delivered" {
            // Batched: written with the next cursor advance (`flush_log`).
            self.delivered_log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(row);
            return;
        }
        // Earlier successes first, so the log keeps the order of the attempts.
        self.flush_log().await;
        if let Err(e) = self.store.webhook_log_attempt(row).await {
            tracing::warn!(endpoint = %endpoint.id, error = %e, "logging a webhook attempt failed");
        }
    }

    /// Writes the successful attempts logged since the last flush, in one transaction.
    pub(crate) async fn flush_log(&self) {
        let rows = std::mem::take(
            &mut *self
                .delivered_log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if let Err(e) = self.store.webhook_log_attempts(rows).await {
            tracing::warn!(error = %e, "logging webhook attempts failed");
        }
    }

    /// Disables the endpoint after a `410 Gone`.
    async fn disable(&self, endpoint: &Endpoint) -> Result<(), fathom_store::StoreError> {
        let Some(row) = self.store.webhook(&endpoint.id).await? else {
            return Ok(());
        };
        let Ok(mut current) = Endpoint::from_row(&row) else {
            return Ok(());
        };
        current.spec.enabled = false;
        current.spec.disabled_reason = Some(format!(
            "The receiver answered 410 Gone at {} ms since the epoch.",
            now_ms()
        ));
        current.updated_at_ms = now_ms().max(current.updated_at_ms + 1);
        tracing::warn!(endpoint = %endpoint.id, "webhook endpoint answered 410 Gone: disabled");
        self.store.webhook_save(current.to_row()).await?;
        self.note_change();
        Ok(())
    }
}

impl Webhooks {
    /// Whether an endpoint changed on this node since `seen`.
    fn outdated(&self, seen: u64) -> bool {
        *self.changed.borrow() != seen
    }
}

async fn endpoint_enabled(hooks: &Webhooks, id: &str) -> bool {
    match hooks.store.webhook(id).await {
        Ok(Some(row)) => Endpoint::from_row(&row).is_ok_and(|e| e.spec.enabled),
        Ok(None) => false,
        Err(_) => true,
    }
}

/// Waits `wait`, waking early when the lease is lost.
async fn pause(wait: Duration, lost: &AtomicBool) {
    let until = Instant::now() + wait;
    while !lost.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_millis(250))).await;
    }
}

/// The last error of a dead letter in a few words.
fn summary(outcome: &Outcome) -> String {
    match (&outcome.status, &outcome.error) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no response".into(),
    }
}
