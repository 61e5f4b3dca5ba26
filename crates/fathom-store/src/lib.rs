//! One storage handle over the database. Everything above this crate talks to [`Store`]; the
//! dialect, the drivers and their error types stay inside. The backend is embedded SQLite
//! (rusqlite) or PostgreSQL (tokio-postgres with a deadpool pool), one [`Backend`] variant each
//! behind the same methods and the same contract suite.
//!
//! Invariants: user input reaches the database only as bound parameters; driver errors never
//! escape (they are classified into [`StoreErrorKind`] here); every write runs through a
//! [`UnitOfWork`] in one transaction, acknowledged only after its commit.

mod cascade;
mod cursors;
mod error;
mod events;
mod identity;
mod plan;
mod postgres;
mod record;
mod sqlite;
mod statements;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fathom_query::Filter;
use fathom_schema::{Collection, Schema};
use uuid::Uuid;

pub use cursors::{CursorState, Lease};
pub use error::{StoreError, StoreErrorKind};
pub use events::{Actor, Event, EventOperation, EventPage, Origin, Retention};
pub use identity::{
    ApiKey, AuditEntry, AuditRecord, Authority, KeyCreator, NewUser, RefreshOutcome, Session,
    StoredSigningKey, User, UserChanges,
};
pub use plan::{AppliedMigration, MigrationPlan, PlannedStep, Risk, RiskLevel};
pub use postgres::PostgresOptions;
pub use postgres::scratch::ScratchDatabase;
pub use record::{ListQuery, Record, Scope, UnitOfWork, WriteOp, WriteResult};
pub use sqlite::{Durability, SqliteOptions};
pub use webhooks::{AttemptRow, DeadLetter, Replay, WebhookRow};

/// The storage handle. Cheap to clone; all clones share the same connections.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    statements: Arc<AtomicU64>,
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Calls the same method on whichever backend the store has.
macro_rules! dispatch {
    ($store:expr, $method:ident($($arg:expr),*)) => {
        match &*$store.backend {
            Backend::Sqlite(s) => s.$method($($arg),*).await,
            Backend::Postgres(p) => p.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens (creating if needed) an embedded SQLite database.
    pub async fn open_sqlite(options: SqliteOptions) -> Result<Self, StoreError> {
        let store = sqlite::SqliteStore::open(options).await?;
        Ok(Self {
            backend: Arc::new(Backend::Sqlite(store)),
            statements: Arc::default(),
        })
    }

    /// Connects to a PostgreSQL database, creating Fathom's own tables if they are missing.
    /// Fails with [`StoreErrorKind::Unavailable`] (naming the server) when it cannot connect.
    pub async fn open_postgres(options: PostgresOptions) -> Result<Self, StoreError> {
        let store = postgres::PgStore::open(options).await?;
        Ok(Self {
            backend: Arc::new(Backend::Postgres(store)),
            statements: Arc::default(),
        })
    }

    /// Which database this store runs on: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, ping())
    }

    /// The latest applied migration, if any.
    pub async fn applied(&self) -> Result<Option<AppliedMigration>, StoreError> {
        dispatch!(self, applied())
    }

    /// Every applied migration, oldest first.
    pub async fn history(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        dispatch!(self, history())
    }

    /// Plans the migration from the applied schema to `desired`, judging each step against the
    /// live data. Changes nothing.
    pub async fn plan(&self, desired: &Schema) -> Result<MigrationPlan, StoreError> {
        dispatch!(self, plan(desired.clone()))
    }

    /// Plans and applies the migration to `desired` in one transaction. Unsafe steps are refused
    /// (with [`StoreErrorKind::UnsafeMigration`] and the plan) unless `allow_unsafe`; any failure
    /// leaves the database unchanged. Returns the plan that was applied (empty when up to date).
    pub async fn migrate(
        &self,
        desired: &Schema,
        allow_unsafe: bool,
    ) -> Result<MigrationPlan, StoreError> {
        dispatch!(self, migrate(desired.clone(), allow_unsafe))
    }

    /// A secret of 32 random bytes stored in the database under `name`, created on first use, so
    /// that every node sharing the database signs and verifies with the same key.
    pub async fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        dispatch!(self, secret(name.to_owned()))
    }

    /// One live record by id.
    pub async fn get(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        id: Uuid,
    ) -> Result<Option<Record>, StoreError> {
        self.count_statement();
        dispatch!(self, get(scope.clone(), collection, id))
    }

    /// Live records matching the query, in its order.
    pub async fn list(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<Record>, StoreError> {
        self.count_statement();
        dispatch!(self, list(scope.clone(), collection, query))
    }

    /// The number of live records matching `filter`.
    pub async fn count(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        filter: Option<Filter>,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        dispatch!(self, count(scope.clone(), collection, filter))
    }

    /// The database's plan for a list query, one line per step (for tests and the architect).
    pub async fn explain(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self, explain(scope.clone(), collection, query))
    }

    /// Runs every operation of the unit of work in one transaction: all or nothing. Returns one
    /// result per operation, in order, once the transaction is durable.
    pub async fn execute(&self, work: UnitOfWork) -> Result<Vec<WriteResult>, StoreError> {
        self.count_statement();
        dispatch!(self, execute(work))
    }

    /// Events with sequence > `after`, in sequence order, at most `limit`; `tenant: Some(t)`
    /// keeps only that tenant's events (not those of shared, untenanted collections).
    /// `oldest` and `latest` bound what the outbox holds at the same moment.
    pub async fn events_after(
        &self,
        after: i64,
        limit: usize,
        tenant: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        dispatch!(self, events_after(after, limit, tenant.map(str::to_owned)))
    }

    /// The highest committed sequence this node knows of, advanced by this node's own commits
    /// at once and, on PostgreSQL, by other nodes' (LISTEN/NOTIFY wake-ups plus a slow poll, as
    /// a notification is only a wake-up). A tailer awaits `changed()`, then reads
    /// [`Store::events_after`].
    pub fn event_watch(&self) -> tokio::sync::watch::Receiver<i64> {
        match &*self.backend {
            Backend::Sqlite(s) => s.event_watch(),
            Backend::Postgres(p) => p.event_watch(),
        }
    }

    /// Removes one batch (at most 1,000) of the oldest events past `retention`, never the
    /// latest; returns how many. The pruner calls it until it returns less than a batch.
    pub async fn prune_events(&self, retention: Retention) -> Result<usize, StoreError> {
        dispatch!(self, prune_events(retention))
    }

    /// How many record reads and writes this handle has run, each one round trip to the
    /// database; tests use it to prove that expansion never issues one query per record.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn count_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }
}
