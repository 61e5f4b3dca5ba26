//! One storage handle over the database. Everything above this crate talks to [`Store`]; the
//! dialect, the driver and its error types stay inside. Today the backend is embedded SQLite;
//! PostgreSQL slots in as a second [`Backend`] variant behind the same methods.
//!
//! Invariants: user input reaches the database only as bound parameters; driver errors never
//! escape (they are classified into [`StoreErrorKind`] here); every write runs through a
//! [`UnitOfWork`] in one transaction, acknowledged only after its commit.

mod error;
mod identity;
mod plan;
mod record;
mod sqlite;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fathom_query::Filter;
use fathom_schema::{Collection, Schema};
use uuid::Uuid;

pub use error::{StoreError, StoreErrorKind};
pub use identity::{
    ApiKey, AuditEntry, AuditRecord, NewUser, RefreshOutcome, Session, StoredSigningKey, User,
    UserChanges,
};
pub use plan::{AppliedMigration, MigrationPlan, PlannedStep, Risk, RiskLevel};
pub use record::{ListQuery, Record, Scope, UnitOfWork, WriteOp, WriteResult};
pub use sqlite::{Durability, SqliteOptions};

/// The storage handle. Cheap to clone; all clones share the same connections.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    statements: Arc<AtomicU64>,
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
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

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.ping().await,
        }
    }

    /// The latest applied migration, if any.
    pub async fn applied(&self) -> Result<Option<AppliedMigration>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.applied().await,
        }
    }

    /// Every applied migration, oldest first.
    pub async fn history(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.history().await,
        }
    }

    /// Plans the migration from the applied schema to `desired`, judging each step against the
    /// live data. Changes nothing.
    pub async fn plan(&self, desired: &Schema) -> Result<MigrationPlan, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.plan(desired.clone()).await,
        }
    }

    /// Plans and applies the migration to `desired` in one transaction. Unsafe steps are refused
    /// (with [`StoreErrorKind::UnsafeMigration`] and the plan) unless `allow_unsafe`; any failure
    /// leaves the database unchanged. Returns the plan that was applied (empty when up to date).
    pub async fn migrate(
        &self,
        desired: &Schema,
        allow_unsafe: bool,
    ) -> Result<MigrationPlan, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.migrate(desired.clone(), allow_unsafe).await,
        }
    }

    /// A secret of 32 random bytes stored in the database under `name`, created on first use, so
    /// that every node sharing the database signs and verifies with the same key.
    pub async fn secret(&self, name: &str) -> Result<[u8; 32], StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.secret(name.to_owned()).await,
        }
    }

    /// One live record by id.
    pub async fn get(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        id: Uuid,
    ) -> Result<Option<Record>, StoreError> {
        self.count_statement();
        match &*self.backend {
            Backend::Sqlite(s) => s.get(scope.clone(), collection, id).await,
        }
    }

    /// Live records matching the query, in its order.
    pub async fn list(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<Record>, StoreError> {
        self.count_statement();
        match &*self.backend {
            Backend::Sqlite(s) => s.list(scope.clone(), collection, query).await,
        }
    }

    /// The number of live records matching `filter`.
    pub async fn count(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        filter: Option<Filter>,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        match &*self.backend {
            Backend::Sqlite(s) => s.count(scope.clone(), collection, filter).await,
        }
    }

    /// The database's plan for a list query, one line per step (for tests and the architect).
    pub async fn explain(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<String>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.explain(scope.clone(), collection, query).await,
        }
    }

    /// Runs every operation of the unit of work in one transaction: all or nothing. Returns one
    /// result per operation, in order, once the transaction is durable.
    pub async fn execute(&self, work: UnitOfWork) -> Result<Vec<WriteResult>, StoreError> {
        self.count_statement();
        match &*self.backend {
            Backend::Sqlite(s) => s.execute(work).await,
        }
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
