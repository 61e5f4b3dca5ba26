//! W7's broker phases: for each broker given, a fresh Fathom server with one sink of it on
//! `items` (configured through `FATHOM_BROKERS__NATS` / `FATHOM_BROKERS__RABBITMQ`), the bench's
//! own consumer on what the sink publishes (a JetStream pull consumer on the sink's stream; a
//! durable queue bound to the sink's exchange with `#`), and the latency and sustained phases of
//! `w7/phases.rs`. The stream, subjects, exchange and queue are named after the run, and deleted
//! after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::phases::{Inbox, Phases, Receipt, Writer};
use super::{CREATE_OFFSET, W7Options};
use crate::client::{http_client, login};
use crate::fathom_server::{self, ADMIN_EMAIL, ADMIN_PASSWORD, FathomOptions, SCHEMA};
use crate::subscriber::{now_micros, timestamp_micros};

/// How long a new server's sink may take to connect to its broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
enum Kind {
    Nats,
    Rabbitmq,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Nats => "NATS JetStream sink",
            Kind::Rabbitmq => "RabbitMQ sink",
        }
    }
}

/// The broker objects of one run: unique, so that reruns against the same brokers do not meet
/// each other's messages.
struct Names {
    /// The JetStream stream (capturing `<subject_prefix>.>`).
    stream: String,
    subject_prefix: String,
    exchange: String,
    queue: String,
}

impl Names {
    fn new() -> Self {
        let run = now_micros() / 1000;
        Self {
            stream: format!("FATHOM_BENCH_{run}"),
            subject_prefix: format!("fathom_bench_{run}"),
            exchange: format!("fathom-bench-{run}"),
            queue: format!("fathom-bench-{run}"),
        }
    }

    /// The server's sink, as the environment variable that configures it (an array of tables,
    /// which the configuration parses like `[[brokers.<kind>]]` in fathom.toml).
    fn sink(&self, kind: Kind, url: &str, in_flight: usize) -> (String, String) {
        let url = toml_string(url);
        match kind {
            Kind::Nats => (
                "FATHOM_BROKERS__NATS".to_owned(),
                format!(
                    "[{{name=\"bench\",url={url},stream=\"{}\",subject_prefix=\"{}\",collections=[\"items\"],in_flight={in_flight}}}]",
                    self.stream, self.subject_prefix
                ),
            ),
            Kind::Rabbitmq => (
                "FATHOM_BROKERS__RABBITMQ".to_owned(),
                format!(
                    "[{{name=\"bench\",url={url},exchange=\"{}\",collections=[\"items\"],in_flight={in_flight}}}]",
                    self.exchange
                ),
            ),
        }
    }
}

/// `text` as a double-quoted string.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The broker phases' figures, one line each (or the one line that says why there are none).
pub async fn run(fathom: &FathomOptions, options: &W7Options) -> Vec<String> {
    let brokers: Vec<(Kind, &str)> = [
        (Kind::Nats, options.nats_url.as_deref()),
        (Kind::Rabbitmq, options.amqp_url.as_deref()),
    ]
    .into_iter()
    .filter_map(|(kind, url)| Some((kind, url.filter(|u| !u.is_empty())?)))
    .collect();
    if brokers.is_empty() {
        let line = "W7 brokers: not measured: no broker was given (--w7-nats-url, --w7-amqp-url, or FATHOM_TEST_NATS_URL / FATHOM_TEST_AMQP_URL as `source scripts/brokers.sh && brokers_start` exports them)".to_owned();
        println!("{line}");
        return vec![line];
    }
    let mut notes = Vec::new();
    for (kind, url) in brokers {
        for &in_flight in &options.sink_in_flight {
            let label = format!("{}, in_flight {in_flight}", kind.label());
            match one(kind, url, in_flight, &label, fathom, options).await {
                Ok(lines) => notes.extend(lines),
                Err(e) => {
                    let line = format!("W7 {label}: not measured: {e:#}");
                    println!("{line}");
                    notes.push(line);
                }
            }
        }
    }
    notes
}

/// One broker's phases, on a server of its own.
async fn one(
    kind: Kind,
    url: &str,
    in_flight: usize,
    label: &str,
    fathom: &FathomOptions,
    options: &W7Options,
) -> anyhow::Result<Vec<String>> {
    let names = Names::new();
    let inbox = Inbox::default();
    // The consumer first: the stream or queue exists before the sink publishes anything.
    let consumer = Consumer::start(kind, url, &names, inbox.clone()).await?;
    let result = async {
        let server = fathom_server::start_async(
            fathom.clone(),
            SCHEMA.to_owned(),
            vec![names.sink(kind, url, in_flight)],
        )
        .await?;
        let client = http_client()?;
        let base = server.process.url("");
        let admin = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        let token: Arc<str> = Arc::from(admin.access_token.as_str());
        let phases = Phases {
            writer: Writer::new(
                client.clone(),
                &base,
                token.clone(),
                Arc::new(fathom_server::owners()),
                CREATE_OFFSET,
            ),
            inbox,
            duration: options.duration(),
            pid: server.process.pid(),
        };
        first_delivery(&phases, &client, &base, &token).await?;
        println!("W7: latency, {label}, {}/s", options.rate);
        let latency = phases.latency(options.rate, 1, label).await;
        phases.drain().await;
        println!("W7: sustained delivery, {label}");
        let sustained = phases.sustained(1, label).await;
        Ok(vec![latency, sustained])
    }
    .await;
    // The server stopped (dropped) above; now the broker objects go.
    consumer.stop().await;
    result
}

/// The server's sink, as `GET /api/v1/admin/brokers` shows it.
async fn sink_status(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<serde_json::Value> {
    let body: serde_json::Value = client
        .get(format!("{base}/api/v1/admin/brokers"))
        .bearer_auth(token)
        .send()
        .await
        .context("asking the server for its sinks")?
        .json()
        .await
        .context("reading the server's sinks")?;
    Ok(body["data"][0].clone())
}

/// Waits until the sink holds its position, then has one event delivered: the sink's connection
/// and its first publish are not what the phases measure.
async fn first_delivery(
    phases: &Phases,
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut written = false;
    loop {
        if written && phases.inbox.count() > 0 {
            phases.inbox.take();
            return Ok(());
        }
        if !written && sink_status(client, base, token).await?["role"] == "publishing" {
            anyhow::ensure!(phases.writer.create().await, "the first create failed");
            written = true;
        }
        if started.elapsed() > CONNECT_TIMEOUT {
            let sink = sink_status(client, base, token).await?;
            anyhow::bail!(
                "no event reached the consumer within {} s; the server's sink: {sink}",
                CONNECT_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bench's consumer of one sink: a task recording every message into the inbox, and what
/// to delete afterwards.
struct Consumer {
    task: JoinHandle<()>,
    broker: Broker,
}

enum Broker {
    Nats {
        jetstream: jetstream::Context,
        stream: String,
    },
    Rabbitmq {
        connection: Connection,
        channel: Channel,
        queue: String,
        exchange: String,
    },
}

impl Consumer {
    async fn start(kind: Kind, url: &str, names: &Names, inbox: Inbox) -> anyhow::Result<Self> {
        match kind {
            Kind::Nats => nats(url, names, inbox).await,
            Kind::Rabbitmq => rabbitmq(url, names, inbox).await,
        }
    }

    /// Stops consuming and deletes the run's stream, or its queue and exchange.
    async fn stop(self) {
        self.task.abort();
        let outcome = match &self.broker {
            Broker::Nats { jetstream, stream } => jetstream
                .delete_stream(stream)
                .await
                .map(drop)
                .map_err(|e| format!("deleting the stream {stream}: {e}")),
            Broker::Rabbitmq {
                connection,
                channel,
                queue,
                exchange,
            } => async {
                channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await?;
                channel
                    .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                    .await?;
                connection.close(200, "done".into()).await
            }
            .await
            .map_err(|e| format!("deleting the queue {queue} and the exchange {exchange}: {e}")),
        };
        if let Err(e) = outcome {
            println!("W7: {e}");
        }
    }
}

/// What the bench reads of a published event (docs/BROKERS.md, "What a message carries").
#[derive(Deserialize)]
struct Published {
    sequence: i64,
    committed_at: String,
}

fn receipt(body: &[u8], received_us: i64) -> Option<Receipt> {
    let event: Published = serde_json::from_slice(body).ok()?;
    Some(Receipt {
        copy: 0,
        seq: event.sequence,
        committed_us: timestamp_micros(&event.committed_at),
        received_us,
    })
}

/// A JetStream pull consumer (no acknowledgements) on the run's stream, created here as the
/// sink would create it.
async fn nats(url: &str, names: &Names, inbox: Inbox) -> anyhow::Result<Consumer> {
    let client = async_nats::connect(url)
        .await
        .context("connecting to NATS")?;
    let jetstream = jetstream::new(client);
    let stream = jetstream
        .get_or_create_stream(stream::Config {
            name: names.stream.clone(),
            subjects: vec![format!("{}.>", names.subject_prefix)],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the JetStream stream {}: {e}", names.stream))?;
    let messages = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating a consumer on {}: {e}", names.stream))?
        .messages()
        .await
        .map_err(|e| anyhow!("consuming {}: {e}", names.stream))?;
    let task = tokio::spawn(async move {
        let mut messages = messages;
        while let Some(message) = messages.next().await {
            let received_us = now_micros();
            if let Some(receipt) = message.ok().and_then(|m| receipt(&m.payload, received_us)) {
                inbox.push(receipt);
            }
        }
    });
    Ok(Consumer {
        task,
        broker: Broker::Nats {
            jetstream,
            stream: names.stream.clone(),
        },
    })
}

/// A durable queue bound to every routing key of the run's exchange (declared as the sink
/// declares it), consumed without acknowledgements.
async fn rabbitmq(url: &str, names: &Names, inbox: Inbox) -> anyhow::Result<Consumer> {
    let connection = Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name("fathom-bench".into()),
    )
    .await
    .context("connecting to RabbitMQ")?;
    let channel = connection
        .create_channel()
        .await
        .context("opening a channel")?;
    let (exchange, queue) = (names.exchange.as_str(), names.queue.as_str());
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("declaring the exchange {exchange}"))?;
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("declaring the queue {queue}"))?;
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("binding the queue {queue}"))?;
    let mut deliveries = channel
        .basic_consume(
            queue.into(),
            "fathom-bench".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("consuming the queue {queue}"))?;
    let task = tokio::spawn(async move {
        while let Some(delivery) = deliveries.next().await {
            let received_us = now_micros();
            if let Some(receipt) = delivery.ok().and_then(|d| receipt(&d.data, received_us)) {
                inbox.push(receipt);
            }
        }
    });
    Ok(Consumer {
        task,
        broker: Broker::Rabbitmq {
            connection,
            channel,
            queue: names.queue.clone(),
            exchange: names.exchange.clone(),
        },
    })
}
