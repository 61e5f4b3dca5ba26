//! Realtime: `GET /api/v1/realtime` (Server-Sent Events), `GET /api/v1/realtime/ws` (WebSocket)
//! and `POST /api/v1/realtime/tickets`. One protocol on both transports (`docs/REALTIME.md`):
//! a connection carries many subscriptions, each a collection with an optional filter and field
//! selection; it receives every change it could read through the REST API, in global sequence
//! order, and resumes after its last sequence on any node.
//!
//! One file per job: `protocol.rs` (messages and frames), `credential.rs` (who the connection
//! acts for, checked again while it lives), `tickets.rs` (single-use SSE tickets),
//! `subscribe.rs` (a subscribe message checked into a subscription, and its snapshot),
//! `connection.rs` (the transport-neutral connection loop), `outgoing.rs` (what the loop hands
//! its transport: frames, or a batch's frames encoded once for every connection that shares
//! them), `sse.rs` and `ws.rs` (the two doors; `ws_upgrade.rs` is the WebSocket handshake,
//! `socket.rs` the socket's one writer), `direct.rs` (direct writers: parked connections'
//! batches handed over from one loop per realtime thread), `rechecks.rs` (every connection's
//! credential presented again, from one task per node).
//! Fan-out, catch-up and matching live below, in `fathom-events`.

mod connection;
mod credential;
mod direct;
mod outgoing;
mod protocol;
mod rechecks;
mod socket;
mod sse;
mod subscribe;
mod tickets;
mod ws;
mod ws_upgrade;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use fathom_events::Hub;
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

use crate::AppState;

pub use tickets::Tickets;

/// `[realtime]`: the limits of realtime connections.
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// Events a connection may have waiting (the hub's log keeps at least this many); a client
    /// that falls further behind is told `lagged` and disconnected.
    pub queue: usize,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// The largest client message (WebSocket frame, or the SSE `subscriptions` parameter).
    pub max_message_bytes: usize,
    /// How often an idle connection sends a heartbeat (SSE comment, WebSocket ping).
    pub heartbeat: Duration,
    /// The most records one snapshot may ask for.
    pub max_snapshot: u32,
    /// The most records one subscription remembers as announced (see `fathom-events`).
    pub max_tracked: usize,
    /// How long an SSE ticket may wait before its single use.
    pub ticket_ttl: Duration,
    /// How long a new WebSocket has to send its `auth` message.
    pub auth_timeout: Duration,
    /// Realtime connections this node holds at most; more are refused with 503.
    pub max_connections: usize,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        Self {
            queue: 1024,
            max_subscriptions: 100,
            max_message_bytes: 16 * 1024,
            heartbeat: Duration::from_secs(15),
            max_snapshot: 1000,
            max_tracked: 10_000,
            ticket_ttl: Duration::from_secs(30),
            auth_timeout: Duration::from_secs(10),
            max_connections: 20_000,
        }
    }
}

/// The node's realtime machinery, shared by every served state (a schema reload keeps it).
pub struct Realtime {
    pub hub: Hub,
    pub tickets: Tickets,
    pub settings: RealtimeSettings,
    /// The runtime connections run on (the server's realtime threads), or `None` for the
    /// caller's.
    runtime: Option<Handle>,
    /// The connections' tasks, waited for when the server stops (see [`Realtime::drained`]).
    tasks: TaskTracker,
    /// Subscriptions open on this node's connections (kept by `connection::Subscriptions`).
    pub(crate) subscriptions: Arc<std::sync::atomic::AtomicUsize>,
    /// The direct writers of parked connections, one per realtime thread.
    directs: direct::Directs<connection::Connection>,
    /// Every live connection's credential, presented again on schedule.
    rechecks: rechecks::Rechecks,
}

impl Realtime {
    /// Must be called within a Tokio runtime (the direct writers start at once, on `runtime`
    /// or, when it is `None`, on the caller's).
    pub fn new(hub: Hub, settings: RealtimeSettings, runtime: Option<Handle>) -> Arc<Self> {
        let threads = match &runtime {
            Some(runtime) => runtime.metrics().num_workers(),
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        let directs = direct::Directs::start(&hub, threads, runtime.as_ref());
        Arc::new(Self {
            directs,
            hub,
            tickets: Tickets::new(settings.ticket_ttl),
            settings,
            runtime,
            tasks: TaskTracker::new(),
            subscriptions: Arc::default(),
            rechecks: rechecks::Rechecks::default(),
        })
    }

    /// Runs a connection's task on the realtime runtime.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        match &self.runtime {
            Some(runtime) => drop(self.tasks.spawn_on(task, runtime)),
            None => drop(self.tasks.spawn(task)),
        }
    }

    /// Completes once every connection task has ended: after [`Hub::stop`], each has sent its
    /// `closing` frame (or found its client gone). The server waits for this before it drops
    /// the realtime threads, which would cut the connections without their resume point.
    pub async fn drained(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Registers a connection's credential to be presented again on schedule, until the
    /// returned handle is dropped (see `rechecks.rs`).
    pub(crate) fn present(
        &self,
        state: &AppState,
        credential: &credential::Credential,
        standing: credential::Standing,
    ) -> rechecks::Presented {
        self.rechecks
            .register(state, credential, standing, self.runtime.as_ref())
    }

    /// Hands a parked connection to a direct writer (see `direct.rs`).
    pub(crate) fn admit(&self, seat: Arc<connection::ConnectionSeat>, generation: u64) {
        self.directs.admit(seat, generation);
    }

    /// Subscriptions open on this node now.
    pub fn subscriptions(&self) -> usize {
        self.subscriptions
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Refuses a new connection when the node holds its maximum.
pub(crate) fn admit(state: &AppState) -> Result<(), crate::error::ApiError> {
    let max = state.realtime.settings.max_connections;
    if state.realtime.hub.connections() >= max {
        return Err(crate::error::ApiError::new(
            fathom_core::ErrorCode::ServiceUnavailable,
            format!("This node holds its maximum of {max} realtime connections."),
            "Retry in a moment, or connect to another node.",
        ));
    }
    Ok(())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(sse::stream))
        .route("/ws", get(ws::upgrade))
        .route("/tickets", post(tickets::issue))
}
