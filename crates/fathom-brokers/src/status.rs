//! What every sink is doing, for `/ready` and `GET /api/v1/admin/brokers`: its role on this node
//! (publishing, standing by), its position and the outbox's latest sequence (whose difference is
//! the backlog), the breaker's state and the last failure. The sink's task writes it; readers
//! take a [`SinkReport`] copy.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// The sinks of one node. A clone shares them.
#[derive(Clone, Default)]
pub struct Brokers {
    sinks: Arc<Vec<Arc<SinkStatus>>>,
}

impl Brokers {
    pub fn new(sinks: Vec<Arc<SinkStatus>>) -> Self {
        Self {
            sinks: Arc::new(sinks),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// A copy of every sink's state, in configuration order.
    pub fn reports(&self) -> Vec<SinkReport> {
        self.sinks.iter().map(|sink| sink.report()).collect()
    }
}

/// What a sink's task is doing on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not started yet.
    Starting,
    /// This node holds the sink's lease and publishes.
    Publishing,
    /// Another node holds the lease; this one takes over if it lapses.
    Standby,
    /// Stopped with the server.
    Stopped,
}

/// One sink's state as last written by its task.
#[derive(Debug, Clone, Serialize)]
pub struct SinkReport {
    pub name: String,
    /// `nats` or `rabbitmq`.
    pub kind: &'static str,
    pub role: Role,
    /// Whether the publisher is connected to the broker (false on a standby node).
    pub connected: bool,
    /// The last sequence published (and acknowledged by the broker) or skipped by the selection.
    pub position: i64,
    /// The outbox's latest sequence when last read.
    pub latest: i64,
    /// `latest - position`: events committed but not yet published.
    pub backlog: i64,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// The last failure, without credentials; cleared by a success.
    pub last_error: Option<String>,
    /// Events published by this node since it started.
    pub published: u64,
}

/// A sink's state, written by its task.
pub struct SinkStatus {
    inner: Mutex<SinkReport>,
}

impl SinkStatus {
    pub fn new(name: &str, kind: &'static str) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(SinkReport {
                name: name.to_owned(),
                kind,
                role: Role::Starting,
                connected: false,
                position: 0,
                latest: 0,
                backlog: 0,
                breaker: "closed",
                failures: 0,
                last_error: None,
                published: 0,
            }),
        })
    }

    pub fn report(&self) -> SinkReport {
        self.lock().clone()
    }

    /// Changes the report under its lock; the backlog follows position and latest.
    pub(crate) fn update(&self, change: impl FnOnce(&mut SinkReport)) {
        let mut report = self.lock();
        change(&mut report);
        report.backlog = (report.latest - report.position).max(0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkReport> {
        // A report is plain data, whole after any panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
