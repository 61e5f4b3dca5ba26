//! What W7's webhook and broker phases share: the writer, the inbox every receiver and consumer
//! records its messages into, and the two measured phases (one steady writer's commit-to-receipt
//! latency; 32 writers' sustained delivery) with one accounting of what arrived: each copy of
//! the event stream (a webhook endpoint, a broker's queue) should get every event exactly once,
//! in sequence order.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::data::{Lcg, item, mix};
use crate::proc_stats;
use crate::subscriber::now_micros;

/// A phase stops waiting for messages after this long without one.
const QUIET: Duration = Duration::from_secs(5);

/// One message received.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    /// Which copy of the event stream it came through: the webhook endpoint (`/hook/{n}`); 0
    /// for a broker's consumer.
    pub copy: usize,
    /// The event's outbox sequence (one event, one sequence: the key for duplicates).
    pub seq: i64,
    /// When the server committed the event (its own clock, in whole milliseconds).
    pub committed_us: Option<i64>,
    /// When the message arrived, on this machine's clock.
    pub received_us: i64,
}

/// Where a receiver or a consumer records what arrives, in arrival order.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<Receipt>>>);

impl Inbox {
    pub fn push(&self, receipt: Receipt) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(receipt);
    }

    /// Everything received since the last call (the inbox starts again).
    pub fn take(&self) -> Vec<Receipt> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Creates items as the administrator.
#[derive(Clone)]
pub struct Writer {
    client: reqwest::Client,
    url: String,
    token: Arc<str>,
    owners: Arc<Vec<String>>,
    next: Arc<AtomicU64>,
}

impl Writer {
    /// A writer to the server at `base`; item numbers start at `first` (apart from the
    /// numbers other workloads use).
    pub fn new(
        client: reqwest::Client,
        base: &str,
        token: Arc<str>,
        owners: Arc<Vec<String>>,
        first: u64,
    ) -> Self {
        Self {
            client,
            url: format!("{base}/api/v1/items"),
            token,
            owners,
            next: Arc::new(AtomicU64::new(first)),
        }
    }

    /// One create; `true` when it was answered 201.
    pub async fn create(&self) -> bool {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let body = item(n, &mut Lcg::new(mix(n)), &self.owners);
        self.client
            .post(&self.url)
            .bearer_auth(&*self.token)
            .json(&body)
            .send()
            .await
            .is_ok_and(|r| r.status() == 201)
    }
}

/// The phases against one server and one inbox.
pub struct Phases {
    pub writer: Writer,
    pub inbox: Inbox,
    /// How long each phase writes.
    pub duration: Duration,
    /// The server under test, for its CPU time.
    pub pid: u32,
}

impl Phases {
    /// Waits until `expected` messages arrived or none arrived for [`QUIET`]; returns when the
    /// last one arrived.
    pub async fn wait_for(&self, expected: usize) -> Instant {
        let mut last = (self.inbox.count(), Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let count = self.inbox.count();
            if count != last.0 {
                last = (count, Instant::now());
            }
            if count >= expected || last.1.elapsed() > QUIET {
                return last.1;
            }
        }
    }

    /// Lets a backlog drain, then forgets it.
    pub async fn drain(&self) {
        self.wait_for(usize::MAX).await;
        self.inbox.take();
    }

    /// A steady writer at `rate` for the phase's duration, each event delivered to `copies`
    /// copies; commit-to-receipt percentiles. `label` names what delivers ("1 webhook
    /// endpoint(s)", "NATS JetStream").
    pub async fn latency(&self, rate: f64, copies: usize, label: &str) -> String {
        self.inbox.take();
        let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
        let started = Instant::now();
        let mut written = 0usize;
        let mut next = started;
        while started.elapsed() < self.duration {
            if self.writer.create().await {
                written += 1;
            }
            next += interval;
            tokio::time::sleep_until(next.into()).await;
        }
        self.wait_for(written * copies).await;
        let mut tally = Tally::of(&self.inbox.take(), copies, written);
        let latencies = &mut tally.latencies_ms;
        latencies.sort_by(f64::total_cmp);
        format!(
            "W7 latency, {label}, {written} creates at {rate}/s: commit-to-receipt p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({})",
            percentile(latencies, 0.50),
            percentile(latencies, 0.95),
            percentile(latencies, 0.99),
            latencies.last().copied().unwrap_or(f64::NAN),
            tally.describe(),
        )
    }

    /// 32 writers as fast as Fathom answers for the phase's duration, each event delivered to
    /// `copies` copies; delivery throughput per copy and the backlog's drain time.
    pub async fn sustained(&self, copies: usize, label: &str) -> String {
        self.inbox.take();
        let started = Instant::now();
        let start_us = now_micros();
        let cpu_before = proc_stats::cpu_seconds(self.pid);
        let deadline = started + self.duration;
        let written = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (writer, written) = (self.writer.clone(), written.clone());
            tasks.spawn(async move {
                while Instant::now() < deadline {
                    if writer.create().await {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let writes_done = Instant::now();
        let writes_done_us = now_micros();
        let written = usize::try_from(written.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        let last = self.wait_for(written * copies).await;
        // The server's CPU from the first write to the last delivery (the quiet wait after it
        // costs next to nothing).
        let cpu = proc_stats::cpu_seconds(self.pid)
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        let got = self.inbox.take();
        let tally = Tally::of(&got, copies, written);
        let end_us = got.iter().map(|r| r.received_us).max().unwrap_or(start_us);
        let span = ((end_us - start_us) as f64 / 1e6).max(1e-3);
        let write_seconds = writes_done.duration_since(started).as_secs_f64();
        let drain = last.saturating_duration_since(writes_done).as_secs_f64();
        // The backlog's pace with the writers stopped: delivery alone on the machine.
        let backlog = got
            .iter()
            .filter(|r| r.received_us > writes_done_us)
            .count();
        let draining = if drain >= 0.1 {
            format!(" at {:.0} messages/s", backlog as f64 / drain)
        } else {
            String::new()
        };
        let delivered = tally.delivered();
        let complete = tally.lost == 0;
        let (min, max) = (
            tally.per_copy.iter().min().copied().unwrap_or(0),
            tally.per_copy.iter().max().copied().unwrap_or(0),
        );
        let cpu = cpu.map_or(String::new(), |seconds| {
            format!(
                "; Fathom's CPU {:.0} µs per create",
                seconds * 1e6 / written.max(1) as f64
            )
        });
        format!(
            "W7 sustained, {label}, 32 writers for {write_seconds:.1} s: {written} creates ({:.0}/s); {delivered} messages delivered ({min}..{max} per copy), {:.0} events/s per copy ({:.0}/s in all, first write to last receipt); the backlog ({backlog} messages) drained {drain:.2} s after the writes stopped{draining}{}{cpu}; {}: delivery {}",
            written as f64 / write_seconds,
            delivered as f64 / copies.max(1) as f64 / span,
            delivered as f64 / span,
            if complete {
                ""
            } else {
                " (INCOMPLETE: messages missing after 5 s without any)"
            },
            tally.describe(),
            if complete && drain < 1.0 {
                "keeps up with the writes"
            } else {
                "falls behind the writes"
            },
        )
    }
}

/// What arrived against what was written.
struct Tally {
    /// Distinct events per copy.
    per_copy: Vec<usize>,
    /// Messages of an event the copy already had.
    duplicates: usize,
    /// Distinct events that arrived after a later one on the same copy.
    out_of_order: usize,
    /// Events written (answered 201) that never reached a copy.
    lost: usize,
    /// Messages from a copy the phase did not expect (none should).
    stray: usize,
    /// Commit-to-receipt of each distinct event, in ms (unsorted).
    latencies_ms: Vec<f64>,
}

impl Tally {
    fn of(got: &[Receipt], copies: usize, written: usize) -> Self {
        let mut tally = Self {
            per_copy: vec![0; copies],
            duplicates: 0,
            out_of_order: 0,
            lost: 0,
            stray: 0,
            latencies_ms: Vec::with_capacity(got.len()),
        };
        let mut seen = HashSet::with_capacity(got.len());
        let mut last_seq = vec![i64::MIN; copies];
        for r in got {
            let (Some(count), Some(last)) =
                (tally.per_copy.get_mut(r.copy), last_seq.get_mut(r.copy))
            else {
                tally.stray += 1;
                continue;
            };
            if !seen.insert((r.copy, r.seq)) {
                tally.duplicates += 1;
                continue;
            }
            *count += 1;
            if r.seq < *last {
                tally.out_of_order += 1;
            }
            *last = r.seq;
            if let Some(committed) = r.committed_us {
                tally
                    .latencies_ms
                    .push((r.received_us - committed) as f64 / 1000.0);
            }
        }
        tally.lost = (written * copies).saturating_sub(tally.delivered());
        tally
    }

    fn delivered(&self) -> usize {
        self.per_copy.iter().sum()
    }

    fn describe(&self) -> String {
        let expected = self.delivered() + self.lost;
        let stray = if self.stray > 0 {
            format!(", {} from unknown copies", self.stray)
        } else {
            String::new()
        };
        format!(
            "{} of {expected} messages arrived, {} lost, {} duplicate, {} out of order{stray}",
            self.delivered(),
            self.lost,
            self.duplicates,
            self.out_of_order,
        )
    }
}

/// The `q` quantile of sorted values (NaN when empty).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(copy: usize, seq: i64) -> Receipt {
        Receipt {
            copy,
            seq,
            committed_us: Some(1_000),
            received_us: 3_500,
        }
    }

    #[test]
    fn the_tally_counts_duplicates_reordering_losses_and_strays_per_copy() {
        let got = [
            receipt(0, 1),
            receipt(0, 3),
            receipt(0, 2),
            receipt(0, 3),
            receipt(1, 1),
            receipt(7, 1),
        ];
        let tally = Tally::of(&got, 2, 3);
        assert_eq!(tally.per_copy, vec![3, 1]);
        assert_eq!(
            (
                tally.duplicates,
                tally.out_of_order,
                tally.lost,
                tally.stray
            ),
            (1, 1, 2, 1)
        );
        assert_eq!(tally.latencies_ms, vec![2.5; 4]);
        assert_eq!(
            tally.describe(),
            "4 of 6 messages arrived, 2 lost, 1 duplicate, 1 out of order, 1 from unknown copies"
        );
    }
}
