//! [`AppState`]: everything a handler may need, behind one `Arc` (axum clones the state for
//! every extractor and middleware of every request), and the cached readiness verdict.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fathom_query::cursor::CursorKey;
use fathom_schema::Schema;
use fathom_store::{Store, StoreError};

use crate::HttpConfig;
use crate::advice::{ClientAdvice, HeldIndexAdvice};
use crate::auth::AuthState;
use crate::cache::{CachePlan, ResultCache};
use crate::metrics::Metrics;
use crate::realtime::Realtime;

/// Everything a handler may need; a clone is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`], reached through `Deref` (`state.store`, `state.schema`, ...).
pub struct Shared {
    pub store: Store,
    /// The records engine over `store` and `schema` (with the application's before-write
    /// hooks): every records operation of every transport goes through it.
    pub engine: fathom_engine::Engine,
    /// The schema this state serves; the records API serves exactly this. A reload does not
    /// change it: it serves a new state ([`AppState::with_schema`]).
    pub schema: Arc<Schema>,
    pub config: Arc<HttpConfig>,
    /// Signs list cursors; shared by every node through the database.
    pub cursor_key: CursorKey,
    /// Passwords, token keys and the mailbox.
    pub auth: Arc<AuthState>,
    /// The realtime hub, tickets and limits.
    pub realtime: Arc<Realtime>,
    /// The broker sinks' state (`/ready`, `GET /api/v1/admin/brokers`); empty without sinks.
    pub brokers: fathom_brokers::Brokers,
    /// This node's metrics, when they are on (`HttpConfig::metrics`).
    pub metrics: Option<Arc<Metrics>>,
    /// Webhook endpoints and their delivery (shared by every served state, like `auth`).
    pub webhooks: Arc<fathom_webhooks::Webhooks>,
    /// The node's result cache (shared by every served state, like `auth`).
    pub cache: Arc<ResultCache>,
    /// What this state's schema caches.
    pub cache_plan: Arc<CachePlan>,
    /// This node's client advice (`crate::advice`), fed by the records reads (shared by every
    /// served state, like `cache`).
    pub client_advice: Arc<ClientAdvice>,
    /// The index findings last verified for this state's schema (`crate::advice::held`).
    pub index_advice: Arc<HeldIndexAdvice>,
    readiness: Readiness,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// When the database last answered that its applied schema is ours, read without a lock on
/// every records request.
struct Readiness {
    started: Instant,
    /// Microseconds after `started` of the last positive verdict, plus one; 0 when there is none.
    ready_at: AtomicU64,
}

impl Readiness {
    fn unknown() -> Self {
        Self {
            started: Instant::now(),
            ready_at: AtomicU64::new(0),
        }
    }

    fn fresh(&self, max_age: Duration) -> bool {
        let stamp = self.ready_at.load(Ordering::Acquire);
        stamp != 0 && self.now() < stamp.saturating_add(duration_micros(max_age))
    }

    fn record(&self, ready: bool) {
        let stamp = if ready { self.now() } else { 0 };
        self.ready_at.store(stamp, Ordering::Release);
    }

    /// Microseconds since start, plus one so that 0 stays "no verdict".
    fn now(&self) -> u64 {
        duration_micros(self.started.elapsed()).saturating_add(1)
    }
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// How long a readiness verdict is trusted before the database is asked again. Short enough that
/// a migration applied by another process is noticed promptly; long enough to cost nothing. The
/// server checks the applied schema at the same pace to follow migrations.
pub const READINESS_TTL: Duration = Duration::from_secs(1);

impl AppState {
    pub fn new(
        store: Store,
        schema: Arc<Schema>,
        config: HttpConfig,
        cursor_key: CursorKey,
        auth: Arc<AuthState>,
        realtime: Arc<Realtime>,
        webhooks: Arc<fathom_webhooks::Webhooks>,
    ) -> Self {
        let cache = ResultCache::new(config.cache_max_bytes);
        // The hub follows the outbox on this node: another node's writes reach the cache there.
        realtime.hub.observe(cache.observer());
        let cache_plan = Arc::new(cache.plan(&schema));
        let metrics = config.metrics.enabled().then(|| {
            Metrics::new(
                store.clone(),
                auth.clone(),
                realtime.clone(),
                cache.clone(),
                webhooks.clone(),
            )
        });
        let client_advice = Arc::new(ClientAdvice::new(config.client_advice.clone()));
        let engine = fathom_engine::Engine::new(store.clone(), schema.clone()).with_observer(
            Arc::new(crate::records::write::EdgeObserver {
                cache: cache.clone(),
            }),
        );
        Self(Arc::new(Shared {
            store,
            engine,
            schema,
            config: Arc::new(config),
            cursor_key,
            auth,
            realtime,
            brokers: fathom_brokers::Brokers::default(),
            metrics,
            webhooks,
            cache,
            cache_plan,
            client_advice,
            index_advice: Arc::default(),
            readiness: Readiness::unknown(),
        }))
    }

    /// Everything of this state again, with a readiness verdict yet to be reached: what the
    /// `with_*` variants start from.
    fn copied(&self) -> Shared {
        Shared {
            store: self.store.clone(),
            engine: self.engine.clone(),
            schema: self.schema.clone(),
            config: self.config.clone(),
            cursor_key: self.cursor_key.clone(),
            auth: self.auth.clone(),
            realtime: self.realtime.clone(),
            brokers: self.brokers.clone(),
            metrics: self.metrics.clone(),
            webhooks: self.webhooks.clone(),
            cache: self.cache.clone(),
            cache_plan: self.cache_plan.clone(),
            client_advice: self.client_advice.clone(),
            index_advice: self.index_advice.clone(),
            readiness: Readiness::unknown(),
        }
    }

    /// The same state reporting `brokers` (the server's broker sinks).
    pub fn with_brokers(&self, brokers: fathom_brokers::Brokers) -> Self {
        if let Some(metrics) = &self.metrics {
            metrics.set_brokers(brokers.clone());
        }
        Self(Arc::new(Shared {
            brokers,
            ..self.copied()
        }))
    }

    /// The same state running `hooks` before records writes (an embedding application's,
    /// `fathom_engine::Hooks`); a reload ([`AppState::with_schema`]) keeps them.
    pub fn with_hooks(&self, hooks: Arc<fathom_engine::Hooks>) -> Self {
        Self(Arc::new(Shared {
            engine: self.engine.with_hooks(hooks),
            ..self.copied()
        }))
    }

    /// The same server serving `schema`: the store, configuration, cursor key and auth state
    /// (signing keys, token and session caches, login throttle, rate-limit buckets, mailbox) are
    /// shared with `self`, not copied, so a reload loses none of them. Only the readiness verdict
    /// and the cache plan start afresh, since they are about the schema (answers cached under the
    /// old schema are never served under the new one).
    pub fn with_schema(&self, schema: Arc<Schema>) -> Self {
        Self(Arc::new(Shared {
            cache_plan: Arc::new(self.cache.plan(&schema)),
            engine: self.engine.with_schema(schema.clone()),
            schema,
            // Index findings are about the schema: the new one is verified afresh.
            index_advice: Arc::default(),
            ..self.copied()
        }))
    }

    /// Whether the applied schema has no difference from ours (field order aside). A positive
    /// verdict is cached for [`READINESS_TTL`], so a migration applied by another process (`fathom migrate
    /// apply`) makes the server ready, or not ready, within a second and without a restart.
    pub async fn is_migrated(&self) -> bool {
        self.check_migrated(READINESS_TTL).await
    }

    /// [`AppState::is_migrated`], telling a database that cannot answer (an error, so that
    /// callers answer 503 `service_unavailable`) from one that answers with another schema.
    pub async fn migration_verdict(&self) -> Result<bool, StoreError> {
        self.verdict(READINESS_TTL).await
    }

    /// Like [`AppState::is_migrated`], trusting a positive verdict only if younger than
    /// `max_age` (a negative one is always checked again: a server that is not ready serves
    /// nothing else, so the query costs nothing that matters). `/ready` passes zero.
    pub async fn check_migrated(&self, max_age: Duration) -> bool {
        self.verdict(max_age).await.unwrap_or(false)
    }

    async fn verdict(&self, max_age: Duration) -> Result<bool, StoreError> {
        if self.readiness.fresh(max_age) {
            return Ok(true);
        }
        let verdict = match self.store.applied().await {
            Ok(Some(applied)) => fathom_schema::diff(&applied.schema, &self.schema).is_empty(),
            Ok(None) => false,
            Err(e) => {
                self.readiness.record(false);
                return Err(e);
            }
        };
        self.readiness.record(verdict);
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_fresh_until_it_is_older_than_the_age_asked_for() {
        let readiness = Readiness::unknown();
        assert!(!readiness.fresh(Duration::from_secs(60)), "no verdict yet");
        readiness.record(true);
        assert!(readiness.fresh(Duration::from_secs(60)));
        assert!(
            !readiness.fresh(Duration::ZERO),
            "`/ready` always asks again"
        );
        readiness.record(false);
        assert!(!readiness.fresh(Duration::from_secs(60)));
    }
}
