//! W7, webhook delivery (issue 13's benchmark, "W6 delivery" in the issue; W6 was already the
//! login flood): the suite's Fathom delivers the `items` outbox to a receiver on loopback
//! (`w7/receiver.rs`), through endpoints created with the admin API.
//!
//! - **Latency**: one endpoint; one writer creates at a steady rate; each message's
//!   commit-to-receipt time is its arrival on this machine's clock minus its commit time (the
//!   body's `timestamp`, stamped by the server inside the commit, in milliseconds; so a figure
//!   is up to 1 ms high).
//! - **Sustained delivery**: 32 writers create as fast as Fathom answers for the workload's
//!   duration, with 1 and then 20 endpoints; the receiver counts what each endpoint got, how fast
//!   (events a second per endpoint, from the first write to the last receipt), and how long the
//!   backlog took to drain once the writes stopped (delivery keeps up when that is short).
//! - **W1 while delivering**: the suite's W1 create (32 workers, Fathom and the bare baseline
//!   taking turns) with no endpoint, 1 and 20, side by side.
//!
//! Brokers (NATS, RabbitMQ) are not measured here yet.

mod receiver;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::data::{Lcg, item, mix};
use crate::results::WorkloadResult;
use crate::subscriber::now_micros;
use crate::workloads::Bench;
use receiver::Receiver;

/// How W7 runs.
#[derive(Debug, Clone)]
pub struct W7Options {
    /// Creates a second in the latency phase.
    pub rate: f64,
    /// Seconds of each phase.
    pub seconds: f64,
    /// Endpoints of the fan-out phase.
    pub endpoints: usize,
}

/// What W7 adds to the results: its W1 comparisons (as workloads) and its delivery figures (as
/// notes, one line each).
pub struct W7Results {
    pub workloads: Vec<WorkloadResult>,
    pub notes: Vec<String>,
}

/// Item numbers for W7's own creates, apart from every other workload's.
const CREATE_OFFSET: u64 = 1 << 42;

pub async fn run(bench: &Bench, options: &W7Options) -> anyhow::Result<W7Results> {
    let receiver = Receiver::start().await?;
    let writer = Writer {
        client: bench.fathom.client.clone(),
        url: format!("{}/api/v1/items", bench.fathom.base),
        token: bench.admin_token.clone(),
        owners: Arc::new(bench.users.iter().map(|u| u.user_id.clone()).collect()),
        next: Arc::new(AtomicU64::new(CREATE_OFFSET)),
    };
    let w7 = W7 {
        bench,
        receiver,
        writer,
        endpoints: AtomicUsize::new(0),
        duration: Duration::from_secs_f64(options.seconds.max(1.0)),
    };
    let mut workloads = Vec::new();
    let mut notes = Vec::new();
    println!("W7: W1 create without webhooks");
    workloads.push(relabel(
        bench.w1_create(32).await,
        "create, no webhook endpoint",
    ));

    w7.add_endpoints(1).await?;
    println!("W7: latency, 1 endpoint, {}/s", options.rate);
    notes.push(w7.latency(options.rate).await);
    println!("W7: sustained delivery, 1 endpoint");
    notes.push(w7.sustained().await);
    println!("W7: W1 create with 1 endpoint delivering");
    workloads.push(relabel(
        bench.w1_create(32).await,
        "create, 1 webhook endpoint delivering",
    ));
    w7.drain().await;

    let k = options.endpoints.max(2);
    w7.add_endpoints(k).await?;
    println!("W7: sustained delivery, {k} endpoints");
    notes.push(w7.sustained().await);
    println!("W7: W1 create with {k} endpoints delivering");
    workloads.push(relabel(
        bench.w1_create(32).await,
        &format!("create, {k} webhook endpoints delivering"),
    ));
    w7.drain().await;
    println!("W7: latency, {k} endpoints, {}/s", options.rate);
    notes.push(w7.latency(options.rate).await);
    for note in &notes {
        println!("{note}");
    }
    Ok(W7Results { workloads, notes })
}

fn relabel(mut result: WorkloadResult, name: &str) -> WorkloadResult {
    "W7".clone_into(&mut result.id);
    name.clone_into(&mut result.name);
    result
}

/// Creates items as the administrator.
#[derive(Clone)]
struct Writer {
    client: reqwest::Client,
    url: String,
    token: Arc<str>,
    owners: Arc<Vec<String>>,
    next: Arc<AtomicU64>,
}

impl Writer {
    /// One create; `true` when it was answered 201.
    async fn create(&self) -> bool {
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

struct W7<'a> {
    bench: &'a Bench,
    receiver: Receiver,
    writer: Writer,
    /// Endpoints created so far (`/hook/0` …).
    endpoints: AtomicUsize,
    duration: Duration,
}

impl W7<'_> {
    /// Creates endpoints until there are `total` (all `items` events, to `/hook/{n}`).
    async fn add_endpoints(&self, total: usize) -> anyhow::Result<()> {
        let side = &self.bench.fathom;
        while self.endpoints.load(Ordering::Relaxed) < total {
            let n = self.endpoints.load(Ordering::Relaxed);
            let response = side
                .client
                .post(format!("{}/api/v1/admin/webhooks", side.base))
                .bearer_auth(&*self.bench.admin_token)
                .json(&json!({"url": self.receiver.url(n), "collections": ["items"]}))
                .send()
                .await
                .context("creating a webhook endpoint")?;
            let status = response.status();
            anyhow::ensure!(
                status == 201,
                "creating a webhook endpoint answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
            self.endpoints.store(n + 1, Ordering::Relaxed);
        }
        // The delivery workers start within a second (the supervisor's poll).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    }

    /// Waits until `expected` messages arrived or none arrived for 5 s; returns when the last
    /// one arrived.
    async fn wait_for(&self, expected: usize) -> Instant {
        let mut last = (self.receiver.count(), Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let count = self.receiver.count();
            if count != last.0 {
                last = (count, Instant::now());
            }
            if count >= expected || last.1.elapsed() > Duration::from_secs(5) {
                return last.1;
            }
        }
    }

    /// Lets a backlog drain, then forgets it.
    async fn drain(&self) {
        self.wait_for(usize::MAX).await;
        self.receiver.take();
    }

    /// A steady writer at `rate` for the phase's duration; commit-to-receipt percentiles.
    async fn latency(&self, rate: f64) -> String {
        self.receiver.take();
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
        let endpoints = self.endpoints.load(Ordering::Relaxed);
        self.wait_for(written * endpoints).await;
        let got = self.receiver.take();
        let mut latencies: Vec<f64> = got
            .iter()
            .filter_map(|r| r.committed_us.map(|c| (r.received_us - c) as f64 / 1000.0))
            .collect();
        latencies.sort_by(f64::total_cmp);
        format!(
            "W7 latency, {endpoints} endpoint(s), {written} creates at {rate}/s: commit-to-receipt p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} of {} messages arrived)",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.95),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or(f64::NAN),
            got.len(),
            written * endpoints,
        )
    }

    /// 32 writers as fast as Fathom answers for the phase's duration; delivery throughput per
    /// endpoint and the backlog's drain time.
    async fn sustained(&self) -> String {
        self.receiver.take();
        let endpoints = self.endpoints.load(Ordering::Relaxed);
        let started = Instant::now();
        let start_us = now_micros();
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
        let written = usize::try_from(written.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        let last = self.wait_for(written * endpoints).await;
        let got = self.receiver.take();
        let mut per_endpoint = vec![0usize; endpoints];
        let mut last_seq = vec![0i64; endpoints];
        let mut out_of_order = 0usize;
        for r in &got {
            if let (Some(c), Some(seq)) = (
                per_endpoint.get_mut(r.endpoint),
                last_seq.get_mut(r.endpoint),
            ) {
                *c += 1;
                if r.seq < *seq {
                    out_of_order += 1;
                }
                *seq = r.seq;
            }
        }
        let end_us = got.iter().map(|r| r.received_us).max().unwrap_or(start_us);
        let span = ((end_us - start_us) as f64 / 1e6).max(1e-3);
        let write_seconds = writes_done.duration_since(started).as_secs_f64();
        let drain = last.saturating_duration_since(writes_done).as_secs_f64();
        let complete = got.len() >= written * endpoints;
        let (min, max) = (
            per_endpoint.iter().min().copied().unwrap_or(0),
            per_endpoint.iter().max().copied().unwrap_or(0),
        );
        format!(
            "W7 sustained, {endpoints} endpoint(s), 32 writers for {write_seconds:.1} s: {written} creates ({:.0}/s); {} messages delivered ({min}..{max} per endpoint), {:.0} events/s per endpoint ({:.0}/s in all, first write to last receipt); the backlog drained {drain:.2} s after the writes stopped{}; {out_of_order} out of order: delivery {}",
            written as f64 / write_seconds,
            got.len(),
            got.len() as f64 / endpoints.max(1) as f64 / span,
            got.len() as f64 / span,
            if complete {
                ""
            } else {
                " (INCOMPLETE: messages missing after 5 s without any)"
            },
            if complete && drain < 1.0 {
                "keeps up with the writes"
            } else {
                "falls behind the writes"
            },
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
