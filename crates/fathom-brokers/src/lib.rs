//! Broker sinks: each configured sink follows the outbox from its own persisted cursor
//! (`nats:<name>`, `rabbitmq:<name>` in the store's `_fathom_cursors`) and publishes every
//! selected event, in sequence order and without loss, to NATS JetStream (`nats` feature) or
//! RabbitMQ (`rabbitmq` feature), waiting for the broker's acknowledgement before it moves on.
//! On PostgreSQL the cursor's lease makes exactly one node publish per sink; the others stand
//! by and take over when the holder stops renewing. Knows nothing of HTTP: the API reads the
//! sinks' state through [`Brokers`]. Guide: `docs/BROKERS.md`.

mod client;
#[cfg(feature = "nats")]
mod nats;
mod payload;
#[cfg(feature = "rabbitmq")]
mod rabbitmq;
mod sink;
mod spec;
mod status;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use client::PublishError;
pub use payload::Message;
pub use sink::{Context, SchemaSource};
pub use spec::{NatsTarget, RabbitmqTarget, Selection, SinkSpec, StreamSpec, Target};
pub use status::{Brokers, Role, SinkReport, SinkStatus};

/// Whether this build can publish to `kind` (`nats`, `rabbitmq`).
pub fn supports(kind: &str) -> bool {
    (kind == "nats" && cfg!(feature = "nats")) || (kind == "rabbitmq" && cfg!(feature = "rabbitmq"))
}

/// The configured sinks of one node, before they run: their state can be handed to the API
/// while the server is being built.
pub struct Sinks {
    specs: Vec<SinkSpec>,
    statuses: Vec<std::sync::Arc<SinkStatus>>,
}

impl Sinks {
    pub fn new(specs: Vec<SinkSpec>) -> Self {
        let statuses = specs
            .iter()
            .map(|spec| SinkStatus::new(&spec.name, spec.target.kind()))
            .collect();
        Self { specs, statuses }
    }

    /// The names of the sinks' cursors: each holds the outbox's events it has not published
    /// yet (the pruner keeps them).
    pub fn cursor_names(&self) -> Vec<String> {
        self.specs.iter().map(SinkSpec::cursor_name).collect()
    }

    /// The sinks' state, for `/ready` and the admin API.
    pub fn brokers(&self) -> Brokers {
        Brokers::new(self.statuses.clone())
    }

    /// Starts one task per sink.
    pub fn start(self, context: Context) -> Running {
        let brokers = self.brokers();
        let (stop, stopping) = watch::channel(false);
        let tasks = self
            .specs
            .into_iter()
            .zip(self.statuses)
            .map(|(spec, status)| {
                tokio::spawn(sink::run(spec, status, context.clone(), stopping.clone()))
            })
            .collect();
        Running {
            brokers,
            stop,
            tasks,
        }
    }
}

/// The running sinks of one node.
pub struct Running {
    brokers: Brokers,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The sinks' state, for `/ready` and the admin API.
    pub fn brokers(&self) -> Brokers {
        self.brokers.clone()
    }

    /// Stops every sink: each records what it published and gives its lease up, so another node
    /// takes over at once. Waits at most `timeout`, then aborts the rest (their leases lapse).
    pub async fn stop(mut self, timeout: Duration) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(timeout, all).await.is_err() {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}
