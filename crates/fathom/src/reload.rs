//! A running server changes the schema it serves without a restart. It follows the database:
//! every [`READINESS_TTL`] it reads the applied schema, and when that changed (`fathom migrate
//! apply`, or another node's start-up or reload) it serves it, so nodes converge without their
//! schema files. On SIGHUP it re-reads its schema file: changes with no database change (rules,
//! hidden flags, field order) are served at once, additive ones are migrated first (when
//! `database.auto_migrate` allows it, as at start-up), and unsafe ones are refused with the plan
//! in the log while the previous schema stays served.

use std::path::PathBuf;
use std::sync::Arc;

use fathom_api::{LiveApp, READINESS_TTL};
use fathom_schema::Schema;
use fathom_store::{AppliedMigration, Store, StoreErrorKind};
use tokio::sync::Mutex;

/// Swaps the served schema, from the database or from the schema file.
pub struct Reloader {
    live: LiveApp,
    store: Store,
    /// What SIGHUP re-reads; `None` for the demo, whose schema is built in.
    file: Option<PathBuf>,
    auto_migrate: bool,
    /// The applied schema last seen in the database. Holding this lock serialises reloads, so the
    /// watcher and a SIGHUP never swap concurrently.
    seen: Mutex<Option<Seen>>,
}

/// One applied migration, as far as following it is concerned.
#[derive(PartialEq)]
pub struct Seen {
    version: i64,
    schema: Schema,
}

impl Seen {
    pub fn of(applied: AppliedMigration) -> Self {
        Self {
            version: applied.version,
            schema: applied.schema,
        }
    }
}

impl Reloader {
    pub fn new(
        live: LiveApp,
        file: Option<PathBuf>,
        auto_migrate: bool,
        seen: Option<Seen>,
    ) -> Self {
        let store = live.state().store.clone();
        Self {
            live,
            store,
            file,
            auto_migrate,
            seen: Mutex::new(seen),
        }
    }

    /// Follows the database's applied schema until the task is aborted.
    pub async fn follow_migrations(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(READINESS_TTL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.follow_once().await;
        }
    }

    /// Serves the applied schema if it changed since last seen. Only a change in the database
    /// counts: a schema this node reloaded from its file (new rules, say) is not undone by a
    /// database that merely stayed as it was.
    async fn follow_once(&self) {
        // Read under the lock: an applied schema read before a concurrent SIGHUP migrated the
        // database would otherwise be served after it, undoing the reload for one tick.
        let mut seen = self.seen.lock().await;
        let applied = match self.store.applied().await {
            Ok(Some(applied)) => Seen::of(applied),
            Ok(None) => return,
            // An unreachable database is reported by `/ready` and every request; try again on
            // the next tick.
            Err(e) => {
                tracing::debug!(error = %e.detail, "cannot read the applied schema");
                return;
            }
        };
        if seen.as_ref() == Some(&applied) {
            return;
        }
        let version = applied.version;
        let schema = applied.schema.clone();
        *seen = Some(applied);
        if *self.live.state().schema == schema {
            return;
        }
        let broken = fathom_api::check_rules(&schema);
        if !broken.is_empty() {
            tracing::warn!(
                version,
                "the database was migrated to a schema whose access rules have problems; still serving the previous schema:\n  {}",
                broken.join("\n  ")
            );
            return;
        }
        self.serve(schema);
        tracing::info!(
            version,
            "schema reloaded: the database was migrated to version {version}; now serving its schema"
        );
    }

    /// Re-reads the schema file (on SIGHUP) and serves it if that is safe; logs the outcome.
    pub async fn reload_file(&self) {
        let Some(path) = &self.file else {
            tracing::info!("SIGHUP: the demo's schema is built in; nothing to reload");
            return;
        };
        let file = path.display().to_string();
        let mut seen = self.seen.lock().await;
        let schema = match crate::commands::load_schema(path) {
            Ok(schema) => schema,
            Err(e) => {
                tracing::warn!(
                    file,
                    "schema reload refused; still serving the previous schema: {e:#}"
                );
                return;
            }
        };
        let broken = fathom_api::check_rules(&schema);
        if !broken.is_empty() {
            tracing::warn!(
                file,
                "schema reload refused: the schema's access rules have problems; still serving the previous schema:\n  {}",
                broken.join("\n  ")
            );
            return;
        }
        if *self.live.state().schema == schema {
            tracing::info!(file, "schema reload: the schema file is unchanged");
            return;
        }
        let plan = match self.store.plan(&schema).await {
            Ok(plan) => plan,
            Err(e) => {
                tracing::warn!(file, error = %e.detail, "schema reload failed: cannot plan the migration; still serving the previous schema");
                return;
            }
        };
        if plan.is_empty() {
            self.serve(schema);
            tracing::info!(
                file,
                "schema reloaded from the schema file; the database needed no change"
            );
            return;
        }
        if plan.is_unsafe() {
            refuse_unsafe(&file, &plan);
            return;
        }
        if !self.auto_migrate {
            tracing::warn!(
                file,
                "schema reload refused: the schema file needs a migration and database.auto_migrate is off; still serving the previous schema. Run `fathom migrate apply`: every running server then follows the database by itself.\n\n{}",
                plan.render()
            );
            return;
        }
        match self.store.migrate(&schema, false).await {
            Ok(plan) => {
                let version = plan.from_version + i64::from(!plan.is_empty());
                *seen = Some(Seen {
                    version,
                    schema: schema.clone(),
                });
                self.serve(schema);
                tracing::info!(
                    file,
                    from = plan.from_version,
                    to = version,
                    steps = plan.steps.len(),
                    "schema reloaded from the schema file after an additive migration"
                );
            }
            Err(e) => match e.kind {
                StoreErrorKind::UnsafeMigration(plan) => refuse_unsafe(&file, &plan),
                _ => tracing::warn!(
                    file,
                    error = %e.detail,
                    "schema reload failed: migrating the database failed, and nothing was changed; still serving the previous schema"
                ),
            },
        }
    }

    fn serve(&self, schema: Schema) {
        let state = self.live.state().with_schema(Arc::new(schema));
        self.live.replace(state);
    }
}

fn refuse_unsafe(file: &str, plan: &fathom_store::MigrationPlan) {
    tracing::warn!(
        file,
        "schema reload refused: the schema file needs changes that are not safe to apply automatically; still serving the previous schema.\n\n{}\nRun `fathom migrate plan` to review them and `fathom migrate apply --allow-destructive` to apply them; every running server then follows the database by itself.",
        plan.render()
    );
}

/// Reloads the schema file on every SIGHUP until the task is aborted. The handler is installed
/// by this call, before the server announces its address: a SIGHUP sent the moment it says
/// "listening" is a reload, not the default action (which ends the process).
#[cfg(unix)]
pub fn on_sighup(reloader: Arc<Reloader>) -> std::io::Result<impl Future<Output = ()> + Send> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    Ok(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the schema file");
            reloader.reload_file().await;
        }
    })
}
