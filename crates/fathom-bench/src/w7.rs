//! W7, webhook and broker delivery (issue 13's benchmark, "W6 delivery" in the issue; W6 was
//! already the login flood): the suite's Fathom delivers the `items` outbox to a receiver on
//! loopback (`w7/receiver.rs`), through endpoints created with the admin API; then, for each
//! broker given, a server of its own publishes it through one sink to NATS JetStream or RabbitMQ,
//! where the bench consumes it (`w7/brokers.rs`).
//!
//! - **Latency**: one endpoint (or one broker sink); one writer creates at a steady rate; each
//!   message's commit-to-receipt time is its arrival on this machine's clock minus its commit
//!   time (stamped by the server inside the commit, in milliseconds; so a figure is up to 1 ms
//!   high).
//! - **Sustained delivery**: 32 writers create as fast as Fathom answers for the workload's
//!   duration, with 1 and then 20 endpoints (or one sink); the receiver counts what each
//!   endpoint got, how fast (events a second per endpoint, from the first write to the last
//!   receipt), and how long the backlog took to drain once the writes stopped (delivery keeps
//!   up when that is short).
//! - **W1 while delivering**: the suite's W1 create (32 workers, Fathom and the bare baseline
//!   taking turns) with no endpoint, 1 and 20, side by side.
//!
//! Both phases and their accounting (lost, duplicate, out-of-order messages) are
//! `w7/phases.rs`, shared by webhooks and brokers.

mod brokers;
mod phases;
mod receiver;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::fathom_server::FathomOptions;
use crate::results::WorkloadResult;
use crate::workloads::Bench;
use phases::{Phases, Writer};
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
    /// A NATS server with JetStream (`nats://…`) for the NATS sink's phases; none skips them.
    pub nats_url: Option<String>,
    /// A RabbitMQ node (`amqp://…`) for the RabbitMQ sink's phases; none skips them.
    pub amqp_url: Option<String>,
    /// Each broker's phases run once per value, on a server whose sink has that `in_flight`.
    pub sink_in_flight: Vec<usize>,
}

impl W7Options {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds.max(1.0))
    }
}

/// What W7 adds to the results: its W1 comparisons (as workloads) and its delivery figures (as
/// notes, one line each).
pub struct W7Results {
    pub workloads: Vec<WorkloadResult>,
    pub notes: Vec<String>,
}

/// Item numbers for W7's own creates, apart from every other workload's.
const CREATE_OFFSET: u64 = 1 << 42;

/// Runs the webhook phases against the suite's server (`bench`), then the broker phases, each
/// against a server of its own started with `fathom`.
pub async fn run(
    bench: &Bench,
    options: &W7Options,
    fathom: &FathomOptions,
) -> anyhow::Result<W7Results> {
    let receiver = Receiver::start()?;
    let phases = Phases {
        writer: Writer::new(
            bench.fathom.client.clone(),
            &bench.fathom.base,
            bench.admin_token.clone(),
            Arc::new(bench.users.iter().map(|u| u.user_id.clone()).collect()),
            CREATE_OFFSET,
        ),
        inbox: receiver.inbox.clone(),
        duration: options.duration(),
        pid: bench.fathom.pid,
    };
    let mut w7 = W7 {
        bench,
        receiver,
        phases,
        endpoints: 0,
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
    w7.phases.drain().await;

    let k = options.endpoints.max(2);
    w7.add_endpoints(k).await?;
    println!("W7: sustained delivery, {k} endpoints");
    notes.push(w7.sustained().await);
    println!("W7: W1 create with {k} endpoints delivering");
    workloads.push(relabel(
        bench.w1_create(32).await,
        &format!("create, {k} webhook endpoints delivering"),
    ));
    w7.phases.drain().await;
    println!("W7: latency, {k} endpoints, {}/s", options.rate);
    notes.push(w7.latency(options.rate).await);

    notes.extend(brokers::run(fathom, options).await);
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

struct W7<'a> {
    bench: &'a Bench,
    receiver: Receiver,
    phases: Phases,
    /// Endpoints created so far (`/hook/0` …).
    endpoints: usize,
}

impl W7<'_> {
    /// Creates endpoints until there are `total` (all `items` events, to `/hook/{n}`).
    async fn add_endpoints(&mut self, total: usize) -> anyhow::Result<()> {
        let side = &self.bench.fathom;
        while self.endpoints < total {
            let response = side
                .client
                .post(format!("{}/api/v1/admin/webhooks", side.base))
                .bearer_auth(&*self.bench.admin_token)
                .json(&json!({"url": self.receiver.url(self.endpoints), "collections": ["items"]}))
                .send()
                .await
                .context("creating a webhook endpoint")?;
            let status = response.status();
            anyhow::ensure!(
                status == 201,
                "creating a webhook endpoint answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
            self.endpoints += 1;
        }
        // The delivery workers start within a second (the supervisor's poll).
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(())
    }

    fn label(&self) -> String {
        format!("{} webhook endpoint(s)", self.endpoints)
    }

    async fn latency(&self, rate: f64) -> String {
        self.phases
            .latency(rate, self.endpoints, &self.label())
            .await
    }

    async fn sustained(&self) -> String {
        self.phases.sustained(self.endpoints, &self.label()).await
    }
}
