//! What a sink is, as plain values: its name, the broker it publishes to and the events it
//! takes. The `fathom` crate reads them from `[[brokers.nats]]` / `[[brokers.rabbitmq]]`.

use std::time::Duration;

use fathom_store::{Event, EventOperation};

/// One sink: a named consumer of the outbox with its own persisted position (the cursor
/// `<kind>:<name>`).
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Unique among the sinks of its kind; names the cursor, the status and the logs.
    pub name: String,
    pub target: Target,
    pub selection: Selection,
    /// At most this many messages await the broker's acknowledgement at once (1: each waits for
    /// the one before).
    pub in_flight: usize,
}

impl SinkSpec {
    /// The name of the sink's cursor in the store: `nats:<name>` or `rabbitmq:<name>`.
    pub fn cursor_name(&self) -> String {
        format!("{}:{}", self.target.kind(), self.name)
    }
}

/// The broker a sink publishes to.
#[derive(Debug, Clone)]
pub enum Target {
    Nats(NatsTarget),
    Rabbitmq(RabbitmqTarget),
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Nats(_) => "nats",
            Self::Rabbitmq(_) => "rabbitmq",
        }
    }
}

/// A NATS JetStream destination: each event goes to `<subject_prefix>.<collection>.<operation>`
/// with the header `Nats-Msg-Id` = the event's id.
#[derive(Clone)]
pub struct NatsTarget {
    /// `nats://host:port` (credentials in the URL are allowed; it is never logged).
    pub url: String,
    pub subject_prefix: String,
    /// The stream to create (or update) at connection, if any; otherwise a stream capturing the
    /// subjects must exist.
    pub stream: Option<StreamSpec>,
    /// How long to wait for JetStream's publish acknowledgement.
    pub ack_timeout: Duration,
}

/// A JetStream stream Fathom creates when it connects.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub name: String,
    /// JetStream discards a message whose `Nats-Msg-Id` it has seen within this window.
    pub duplicate_window: Duration,
}

/// A RabbitMQ destination: each event goes to `exchange` with the routing key
/// `<routing_key_prefix><collection>.<operation>`, persistent, `message_id` = the event's id,
/// under publisher confirms.
#[derive(Clone)]
pub struct RabbitmqTarget {
    /// `amqp://user:password@host:port/vhost` (never logged).
    pub url: String,
    pub exchange: String,
    /// Declare `exchange` as a durable topic exchange at connection.
    pub declare_exchange: bool,
    pub routing_key_prefix: String,
    /// How long to wait for the broker's confirm.
    pub confirm_timeout: Duration,
}

// The URLs may carry credentials: Debug shows everything else.
impl std::fmt::Debug for NatsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTarget")
            .field("url", &"[redacted]")
            .field("subject_prefix", &self.subject_prefix)
            .field("stream", &self.stream)
            .field("ack_timeout", &self.ack_timeout)
            .finish()
    }
}

impl std::fmt::Debug for RabbitmqTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitmqTarget")
            .field("url", &"[redacted]")
            .field("exchange", &self.exchange)
            .field("declare_exchange", &self.declare_exchange)
            .field("routing_key_prefix", &self.routing_key_prefix)
            .field("confirm_timeout", &self.confirm_timeout)
            .finish()
    }
}

/// Which events a sink publishes; an empty list takes every value.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub collections: Vec<String>,
    pub operations: Vec<EventOperation>,
}

impl Selection {
    pub fn takes(&self, event: &Event) -> bool {
        (self.collections.is_empty() || self.collections.contains(&event.collection))
            && (self.operations.is_empty() || self.operations.contains(&event.operation))
    }
}
