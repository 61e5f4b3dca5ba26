//! Build, then run: [`Application::build`] opens the store, applies additive migrations and binds
//! the listener (port 0 in tests) so the real address is known before serving;
//! [`Application::run_until_stopped`] serves until SIGTERM or ctrl-c, then drains in-flight
//! requests under the shutdown timeout. While it serves, the schema it serves can change
//! (`reload.rs`): it is reached through a [`LiveApp`], whose router is swapped as a whole.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use fathom_api::{AppState, LiveApp};
use fathom_query::cursor::CursorKey;
use fathom_schema::Schema;
use fathom_store::{Store, StoreErrorKind};
use tokio::net::TcpListener;
use tokio::runtime::Handle;

use crate::config::Config;
use crate::embed::Extensions;
use crate::embed::after_commit::{self, HookStats, Registered};
use crate::reload::{Reloader, Seen};
use crate::side_runtime::SideRuntime;

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    live: LiveApp,
    /// The state it starts with (for seeding and tests; a reload serves another).
    state: AppState,
    shutdown_timeout: Duration,
    auto_migrate: bool,
    /// The applied migration at start, so that only later changes count as news.
    applied: Option<Seen>,
    /// The schema file SIGHUP re-reads, if any.
    schema_file: Option<std::path::PathBuf>,
    /// How long the outbox keeps events (`[events]`), enforced by the pruner.
    retention: fathom_store::Retention,
    /// How long the audit log keeps entries (`[audit]`), enforced by the audit pruner.
    audit_retention: fathom_store::AuditRetention,
    /// The realtime threads (`[realtime] threads`).
    fan_out: SideRuntime,
    /// The webhook and broker delivery thread.
    delivery: SideRuntime,
    /// The broker sinks (`[brokers]`), started with the server.
    sinks: Option<fathom_brokers::Sinks>,
    /// How long a node's hold on a sink lasts (`brokers.lease_ms`).
    lease_ttl: Duration,
    /// The scheduled purge of soft-deleted records (`[purge]`).
    purge: crate::config::PurgeConfig,
    /// How often the query shapes are flushed to the database (`architect.flush_interval_secs`).
    shape_flush: Duration,
    /// Scheduled backups (`[backup]`, SQLite): the database file, where to, how often, how many.
    backups: Option<(std::path::PathBuf, std::path::PathBuf, Duration, usize)>,
    /// The serving lock of the SQLite database (`fathom restore` refuses while it is held).
    _serving: Option<std::fs::File>,
    /// The listener of `GET /metrics` alone (`metrics.listen`), when configured.
    metrics_listener: Option<TcpListener>,
    /// The embedding application's after-commit hooks (`crate::embed`), started with the server.
    after_commit: Vec<(Registered, Arc<HookStats>)>,
}

/// Opens the store for `config`, naming the database and how to fix the usual problems on
/// failure.
pub async fn open_store(config: &Config, database_name: &str) -> anyhow::Result<Store> {
    let store = open_database(config, database_name)
        .await?
        .with_shape_book(config.architect.record_shapes, config.architect.max_shapes);
    Ok(match config.encryption.key_ring()? {
        Some(keys) => store.with_key_ring(keys),
        None => store,
    })
}

async fn open_database(config: &Config, database_name: &str) -> anyhow::Result<Store> {
    if let Some(options) = config.postgres_options() {
        return Store::open_postgres(options).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot open the PostgreSQL database: {}\nhint: check that the server is running and reachable, and that database.url (or FATHOM_DATABASE__URL) names the right host, port, user, password and database (create it with `createdb`); the role needs to own the database or be allowed to create tables in it",
                e.detail
            )
        });
    }
    let options = config.store_options(database_name);
    let path = options.path.clone();
    Store::open_sqlite(options).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database {}: {}\nhint: check that database.data_dir exists or can be created, is writable, and holds a Fathom database",
            path.display(),
            e.detail
        )
    })
}

impl Application {
    /// Opens the database, migrates it when allowed and safe, and binds the listener: a server
    /// without an application's additions (see [`crate::Fathom::builder`] for those).
    pub async fn build(
        config: &Config,
        schema: Schema,
        database_name: &str,
    ) -> anyhow::Result<Self> {
        Self::assemble(config, schema, database_name, Extensions::default()).await
    }

    /// [`Application::build`] with the builder's `extensions` (already checked).
    pub(crate) async fn assemble(
        config: &Config,
        schema: Schema,
        database_name: &str,
        extensions: Extensions,
    ) -> anyhow::Result<Self> {
        let broken = fathom_api::check_rules(&schema);
        if !broken.is_empty() {
            bail!(
                "the schema's access rules have problems:\n  {}",
                broken.join("\n  ")
            );
        }
        let store = open_store(config, database_name).await?;
        if config.database.auto_migrate {
            match store.migrate(&schema, false).await {
                Ok(plan) if plan.is_empty() => {
                    tracing::info!(version = plan.from_version, "database schema is up to date")
                }
                Ok(plan) => tracing::info!(
                    from = plan.from_version,
                    to = plan.from_version + 1,
                    steps = plan.steps.len(),
                    "applied additive migration"
                ),
                Err(e) => match e.kind {
                    StoreErrorKind::UnsafeMigration(plan) => bail!(
                        "the schema file needs changes that are not safe to apply automatically:\n\n{}\nRun `fathom migrate plan` to review them and `fathom migrate apply --allow-destructive` to apply them.",
                        plan.render()
                    ),
                    _ => bail!(
                        "migrating the database failed, and nothing was changed: {}",
                        e.detail
                    ),
                },
            }
        }
        crate::encryption::check_keys(&store, &schema).await?;
        after_commit::init_cursors(&store, &extensions.after_commit).await?;
        let schema = Arc::new(schema);
        let cursor_key = store
            .secret("cursor_hmac")
            .await
            .map(CursorKey::new)
            .map_err(|e| anyhow::anyhow!("reading the cursor signing key: {}", e.detail))?;
        let applied = store
            .applied()
            .await
            .map_err(|e| anyhow::anyhow!("reading the applied schema: {}", e.detail))?
            .map(Seen::of);
        let auth = crate::auth::build(config, &store).await?;
        let settings = config.realtime.settings();
        let hub = fathom_events::Hub::open(store.clone(), settings.queue)
            .await
            .map_err(|e| anyhow::anyhow!("reading the outbox position: {}", e.detail))?;
        let fan_out = SideRuntime::realtime(config.realtime.threads())
            .context("starting the realtime threads")?;
        let delivery = SideRuntime::delivery().context("starting the delivery thread")?;
        let realtime = fathom_api::Realtime::new(hub, settings, fan_out.handle());
        let sinks = fathom_brokers::Sinks::new(config.brokers.sinks());
        let webhooks = fathom_webhooks::Webhooks::new(store.clone(), config.webhooks.settings())
            .map_err(|e| anyhow::anyhow!(e))?;
        let state = AppState::new(
            store,
            schema,
            config.http_config(),
            cursor_key,
            auth,
            realtime,
            webhooks,
        )
        .with_brokers(sinks.brokers());
        let state = if extensions.before_write.is_empty() {
            state
        } else {
            state.with_hooks(Arc::new(extensions.before_write))
        };
        let after_commit: Vec<(Registered, Arc<HookStats>)> = extensions
            .after_commit
            .into_iter()
            .map(|hook| (hook, Arc::default()))
            .collect();
        if let Some(metrics) = &state.metrics {
            metrics.set_hooks(
                after_commit
                    .iter()
                    .map(|(hook, stats)| (hook.name.clone(), stats.clone()))
                    .collect(),
            );
        }
        let live = LiveApp::with_routes(state.clone(), extensions.routes);
        let address = config.listen_addr();
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}; is another process using it? Pick another with --listen"))?;
        let metrics_listener = match config.metrics.listen_addr() {
            Some(address) => Some(TcpListener::bind(address).await.with_context(|| {
                format!("cannot listen for metrics on {address} (metrics.listen); is another process using it?")
            })?),
            None => None,
        };
        let shutdown_timeout = Duration::from_secs(config.server.shutdown_timeout_secs);
        let database = config
            .postgres_options()
            .is_none()
            .then(|| config.sqlite_path(database_name));
        let serving = database
            .as_deref()
            .and_then(crate::commands::backup::hold_serving_lock);
        let backups = database
            .filter(|_| config.backup.every_minutes > 0)
            .map(|database| {
                let dir = config
                    .backup
                    .dir
                    .clone()
                    .unwrap_or_else(|| config.database.data_dir.join("backups"));
                (
                    database,
                    dir,
                    Duration::from_secs(config.backup.every_minutes.saturating_mul(60)),
                    config.backup.keep,
                )
            });
        Ok(Self {
            listener,
            live,
            state,
            shutdown_timeout,
            auto_migrate: config.database.auto_migrate,
            applied,
            schema_file: None,
            retention: config.events.retention(),
            audit_retention: config.audit.retention(),
            fan_out,
            delivery,
            sinks: Some(sinks),
            lease_ttl: config.brokers.lease_ttl(),
            purge: config.purge.clone(),
            shape_flush: Duration::from_secs(config.architect.flush_interval_secs),
            backups,
            _serving: serving,
            metrics_listener,
            after_commit,
        })
    }

    /// Re-reads `path` on SIGHUP (see `reload.rs`) once running through
    /// [`Application::run_until_stopped`].
    pub fn reload_on_sighup(mut self, path: std::path::PathBuf) -> Self {
        self.schema_file = Some(path);
        self
    }

    /// The address actually bound (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The address the metrics listener is bound to, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The shared state (store and schema), for seeding and tests.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The records engine the server starts with (its schema, store and before-write hooks),
    /// for application code beside the server.
    pub fn engine(&self) -> &fathom_engine::Engine {
        &self.state.engine
    }

    /// The figures of the after-commit hook `name`, if one was registered under it.
    pub fn after_commit_stats(&self, name: &str) -> Option<Arc<HookStats>> {
        self.after_commit
            .iter()
            .find(|(hook, _)| hook.name == name)
            .map(|(_, stats)| stats.clone())
    }

    /// Serves until SIGTERM or ctrl-c (reloading the schema file on SIGHUP when built from one).
    pub async fn serve(self) -> anyhow::Result<()> {
        self.run_until_stopped().await
    }

    /// Serves until SIGTERM or ctrl-c, reloading the schema file on SIGHUP.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let stop = shutdown_signal();
        let reloader = self.reloader();
        #[cfg(unix)]
        let _hangups = AbortOnDrop(tokio::spawn(
            crate::reload::on_sighup(reloader.clone()).context("installing the SIGHUP handler")?,
        ));
        self.serve_until(stop, reloader).await
    }

    /// Serves until `stop` completes, then stops accepting connections and gives in-flight
    /// requests up to the shutdown timeout to finish.
    pub async fn run_until(
        mut self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let reloader = self.reloader();
        self.serve_until(stop, reloader).await
    }

    fn reloader(&mut self) -> Arc<Reloader> {
        Arc::new(Reloader::new(
            self.live.clone(),
            self.schema_file.take(),
            self.auto_migrate,
            self.applied.take(),
        ))
    }

    async fn serve_until(
        mut self,
        stop: impl Future<Output = ()> + Send + 'static,
        reloader: Arc<Reloader>,
    ) -> anyhow::Result<()> {
        let _following = AbortOnDrop(tokio::spawn(reloader.follow_migrations()));
        let mut holding = self
            .sinks
            .as_ref()
            .map(fathom_brokers::Sinks::cursor_names)
            .unwrap_or_default();
        // The after-commit hooks hold their backlog as the sinks do.
        holding.extend(
            self.after_commit
                .iter()
                .map(|(hook, _)| after_commit::cursor_name(&hook.name)),
        );
        let holders = crate::pruner::Holders {
            sinks: holding,
            webhooks: self.state.webhooks.clone(),
        };
        let _pruning = AbortOnDrop(tokio::spawn(crate::pruner::run(
            self.state.store.clone(),
            self.retention,
            holders,
        )));
        let _pruning_audit = AbortOnDrop(tokio::spawn(crate::pruner::prune_audit(
            self.state.store.clone(),
            self.audit_retention,
        )));
        let _purging = AbortOnDrop(tokio::spawn(crate::pruner::purge_on_schedule(
            self.state.store.clone(),
            self.purge.clone(),
        )));
        let _backing_up = self.backups.clone().map(|(database, dir, every, keep)| {
            AbortOnDrop(tokio::spawn(crate::commands::backup::scheduled(
                database, dir, every, keep,
            )))
        });
        let _forgetting = AbortOnDrop(tokio::spawn(crate::pruner::forget_idempotency_keys(
            self.state.store.clone(),
            self.state.config.idempotency_ttl,
        )));
        let flushing_shapes = AbortOnDrop(tokio::spawn(crate::shape_flush::every(
            self.state.store.clone(),
            self.shape_flush,
        )));
        let realtime = self.state.realtime.clone();
        let hub = realtime.hub.clone();
        // Broker sinks and webhook endpoints deliver on the delivery thread (side_runtime.rs).
        let delivery = self.delivery.handle();
        let sinks = {
            let _on_delivery = delivery.as_ref().map(Handle::enter);
            self.start_sinks()
        };
        let _delivering = self
            .state
            .webhooks
            .settings()
            .deliver
            .then(|| AbortOnDrop(self.delivery.spawn(self.state.webhooks.clone().run())));
        let hooks = self.start_after_commit();
        let address = self.local_addr()?;
        let fan_out = self.fan_out;
        let _tailing = AbortOnDrop(fan_out.spawn(hub.clone().run()));
        let _metrics = serve_metrics(self.metrics_listener, self.state.metrics.clone());
        tracing::info!(address = %address, "listening on http://{address}");
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server =
            crate::http_server::serve(self.listener, self.live.into_router(), async move {
                stop.await;
                tracing::info!("shutting down: no new connections; draining in-flight requests");
                // Realtime streams never finish by themselves: each is sent its resume point
                // and closed, so that its client reconnects (to another node) without a gap.
                hub.stop();
                let _ = stopping_tx.send(());
            });
        let timeout = self.shutdown_timeout;
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(timeout).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        // WebSocket connections left the HTTP server when they upgraded: their tasks are
        // waited for apart, so that each sends its resume point before the threads stop.
        let drained = async move {
            server.await;
            realtime.drained().await;
        };
        tokio::select! {
            () = drained => {}
            () = deadline => tracing::warn!(timeout_secs = timeout.as_secs(), "shutdown timeout reached; dropping unfinished requests"),
        }
        // Each sink records what it published and gives its lease up, so another node takes
        // over at once rather than after the lease lapses.
        if let Some(sinks) = sinks {
            sinks.stop(SINKS_STOP_TIMEOUT).await;
        }
        if let Some(hooks) = hooks {
            hooks.stop(SINKS_STOP_TIMEOUT).await;
        }
        // The shapes recorded since the last flush, so that `fathom advise` sees them.
        drop(flushing_shapes);
        crate::shape_flush::once(&self.state.store).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How long stopping sinks may take (a publish in flight finishes or is abandoned).
const SINKS_STOP_TIMEOUT: Duration = Duration::from_secs(5);

impl Application {
    /// Starts the broker sinks, each following the outbox under its lease. Hidden fields are
    /// stripped by the schema served at the time of publishing (it may be reloaded).
    fn start_sinks(&mut self) -> Option<fathom_brokers::Running> {
        let sinks = self.sinks.take()?;
        if sinks.brokers().is_empty() {
            return None;
        }
        let live = self.live.clone();
        let context = fathom_brokers::Context {
            store: self.state.store.clone(),
            schema: Arc::new(move || live.state().schema.clone()),
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            lease_ttl: self.lease_ttl,
        };
        Some(sinks.start(context))
    }

    /// Starts the after-commit hooks, each following the outbox under its lease (the brokers'
    /// lease duration, `brokers.lease_ms`).
    fn start_after_commit(&mut self) -> Option<after_commit::Running> {
        if self.after_commit.is_empty() {
            return None;
        }
        let live = self.live.clone();
        let shared = after_commit::Shared {
            store: self.state.store.clone(),
            engine: Arc::new(move || live.state().engine.clone()),
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            lease_ttl: self.lease_ttl,
        };
        Some(after_commit::start(&self.after_commit, &shared))
    }
}

/// Serves `GET /metrics` on `listener` (the `metrics.listen` one), until the server stops.
fn serve_metrics(
    listener: Option<TcpListener>,
    metrics: Option<Arc<fathom_api::Metrics>>,
) -> Option<AbortOnDrop> {
    let (listener, metrics) = (listener?, metrics?);
    if let Ok(address) = listener.local_addr() {
        tracing::info!(address = %address, "serving metrics on http://{address}/metrics");
    }
    Some(AbortOnDrop(tokio::spawn(crate::http_server::serve(
        listener,
        fathom_api::metrics_router(metrics),
        std::future::pending::<()>(),
    ))))
}

/// A background task of the server, stopped when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Completes on SIGTERM or ctrl-c. The SIGTERM handler is installed by this call, before the
/// server announces its address: a SIGTERM sent the moment it says "listening" is a graceful
/// stop, not the default action (which kills the process).
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = terminate => {},
        }
    }
}
