//! Webhooks: events from the outbox delivered to administrators' HTTP endpoints, signed as the
//! Standard Webhooks specification describes, in sequence order per endpoint, retried with
//! backoff, dead-lettered and replayable, behind a circuit breaker and an SSRF guard. No HTTP
//! server here (no axum): the API crate exposes [`Webhooks`]' operations to administrators and
//! the binary runs [`Webhooks::run`] beside the server.
//!
//! - `endpoint.rs`: [`EndpointSpec`], [`Endpoint`], the checked [`Selection`].
//! - `secret.rs` + `signing.rs`: `whsec_` secrets, rotation with overlap, `v1` signatures.
//! - `payload.rs`: the body an event becomes (hidden fields removed).
//! - `deliver.rs`: one signed attempt and its [`Outcome`].
//! - `worker.rs`: the supervisor and one delivery worker per endpoint, from its cursor.
//! - `breakers.rs`: breaker changes persisted by the delivering node, read by the others.
//! - `stats.rs`: attempts by outcome, breakers and cursor positions, for the metrics.
//! - `ssrf.rs`: the guard and the resolver the HTTP client connects through.
//! - `admin.rs`: what administrators do (create, update, rotate, test, replay, ...).

mod admin;
mod breakers;
mod deliver;
mod endpoint;
mod error;
mod payload;
mod secret;
mod settings;
mod signing;
pub mod ssrf;
mod stats;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use fathom_core::outbound::{Breaker, BreakerState};
use fathom_store::Store;

pub use admin::{EndpointChanges, EndpointView, TestResult};
pub use deliver::Outcome;
pub use endpoint::{Endpoint, EndpointSpec, OPERATIONS, Selection};
pub use error::WebhookError;
pub use fathom_store::{AttemptRow, DeadLetter, Replay};
pub use secret::{SecretSet, SigningSecret};
pub use settings::WebhookSettings;
pub use signing::{sign_v1, signature_header};

/// The webhooks of one node: the admin operations, and the delivery workers once
/// [`Webhooks::run`] is spawned.
pub struct Webhooks {
    store: Store,
    settings: WebhookSettings,
    client: reqwest::Client,
    guard: Arc<ssrf::Guard>,
    /// This node's name as a lease holder (unique per process).
    holder: String,
    /// One breaker per endpoint id, shared by the worker and the admin views.
    breakers: Mutex<HashMap<String, Breaker>>,
    /// What this node last persisted of each breaker (`breakers.rs`).
    written: Mutex<HashMap<String, breakers::Written>>,
    /// Successful attempts not logged yet: written in one transaction with the next cursor
    /// advance (`worker.rs`), not one write each.
    delivered_log: Mutex<Vec<AttemptRow>>,
    /// Counts the endpoint changes made on this node: the supervisor restarts workers without
    /// waiting for its next look, and a worker that sees it move reads its endpoint again
    /// before delivering more (a rotated secret signs the very next message).
    changed: tokio::sync::watch::Sender<u64>,
    /// Attempts by outcome (`stats.rs`).
    deliveries: stats::Deliveries,
    /// Cursor positions of the endpoints this node delivers for (`stats.rs`).
    positions: stats::Positions,
}

impl Webhooks {
    /// Builds the HTTP client (rustls on ring, the guard's resolver, no proxy, no redirects,
    /// the configured timeouts).
    pub fn new(store: Store, settings: WebhookSettings) -> Result<Arc<Self>, String> {
        install_crypto_provider();
        let guard = Arc::new(ssrf::Guard::new(settings.allow_networks.clone()));
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(ssrf::GuardedResolver(guard.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| format!("building the webhook HTTP client: {e}"))?;
        Ok(Arc::new(Self {
            store,
            client,
            guard,
            holder: format!("node-{}", uuid::Uuid::now_v7()),
            breakers: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
            delivered_log: Mutex::new(Vec::new()),
            changed: tokio::sync::watch::Sender::new(0),
            deliveries: stats::Deliveries::default(),
            positions: stats::Positions::default(),
            settings,
        }))
    }

    /// Tells the supervisor and the workers that an endpoint changed on this node.
    fn note_change(&self) {
        self.changed.send_modify(|count| *count += 1);
    }

    /// This node's name as a holder of delivery leases.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    /// The cursors that hold events in the outbox: those of the enabled endpoints. The pruner
    /// never removes an event one of them has not passed yet, so a receiver that is down loses
    /// nothing. A disabled endpoint holds nothing: once enabled again it goes on from the
    /// oldest event still kept (`docs/WEBHOOKS.md`, "Retention").
    pub async fn holding_cursors(&self) -> Result<Vec<String>, WebhookError> {
        let mut names = Vec::new();
        for row in self.store.webhooks().await? {
            let endpoint = Endpoint::from_row(&row)?;
            if endpoint.spec.enabled {
                names.push(Endpoint::cursor(&endpoint.id));
            }
        }
        Ok(names)
    }

    /// The breaker state of an endpoint on this node (closed when it has none yet).
    pub fn breaker(&self, id: &str) -> (BreakerState, u32) {
        let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers.get(id).map_or((BreakerState::Closed, 0), |b| {
            (b.state(Instant::now()), b.consecutive_failures())
        })
    }

    /// Runs `f` on the endpoint's breaker (created on first use).
    fn with_breaker<T>(&self, id: &str, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let breaker = breakers.entry(id.to_owned()).or_insert_with(|| {
            Breaker::new(
                self.settings.breaker_threshold,
                self.settings.breaker_cooldown,
            )
        });
        f(breaker)
    }
}

/// Installs ring as the process's rustls crypto provider (if none is yet). reqwest is built
/// with `rustls-no-provider` (no aws-lc C build), so every reqwest client in the process (the
/// tests' and the benchmark's too, since cargo unifies the features) needs it installed
/// before it is built.
pub fn install_crypto_provider() {
    // Another part of the process may have installed one first: either way one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}
