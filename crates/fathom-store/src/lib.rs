//! One storage handle over the database. Everything above this crate talks to [`Store`]; the
//! dialect, the drivers and their error types stay inside. The backend is embedded SQLite
//! (rusqlite) or PostgreSQL (tokio-postgres with a deadpool pool), one [`Backend`] variant each
//! behind the same methods and the same contract suite.
//!
//! Invariants: user input reaches the database only as bound parameters; driver errors never
//! escape (they are classified into [`StoreErrorKind`] here); every write runs through a
//! [`UnitOfWork`] in one transaction, acknowledged only after its commit.

mod accounts;
pub mod audit;
mod backend_call;
mod cascade;
mod convert;
pub mod crypto;
mod cursors;
mod error;
mod events;
pub mod following;
mod idempotency;
mod identity;
mod keys;
mod oauth;
mod passkeys;
mod plan;
mod postgres;
mod record;
mod sealing;
pub mod shapes;
mod spans;
mod sqlite;
mod statements;
mod stats;
mod totp;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::Instrument;

use fathom_query::Filter;
use fathom_schema::{Collection, Schema};
use shapes::{Probe, Sample, ShapeBook, ShapeKind};
use uuid::Uuid;

pub use accounts::{EMAIL_CHANGE, MAX_USERS_BY_IDS};
pub use audit::{AuditEntry, AuditHead, AuditQuery, AuditRecord, AuditRetention};
pub use convert::{Conversion, Converted, ConvertedEvents};
pub use crypto::KeyRing;
pub use cursors::{CursorState, Lease};
pub use error::{StoreError, StoreErrorKind};
pub use events::{Actor, Event, EventOperation, EventPage, Origin, Retention};
pub use idempotency::{Idempotency, IdempotencyRecord, Renderer, StoredResponse};
pub use identity::{
    ApiKey, Authority, KeyCreator, NewUser, RefreshOutcome, Session, StoredSigningKey, User,
    UserChanges,
};
pub use keys::{KeyUsage, PLAINTEXT};
pub use oauth::{
    CodeClaim, NO_PASSWORD, OAuthCode, OAuthFlow, OAuthIdentity, PendingLink, Unlink,
    password_usable,
};
pub use passkeys::{Ceremony, CeremonyKind, NewPasskey, PasskeyRemoval, StoredPasskey};
pub use plan::{
    AppliedMigration, Lock, Locking, MigrationPlan, PlannedStep, Risk, RiskLevel, Work,
};
pub use postgres::PostgresOptions;
pub use postgres::scratch::ScratchDatabase;
pub use record::{Deleted, ListQuery, Record, Scope, UnitOfWork, WriteOp, WriteResult};
pub use sqlite::backup::{BackupInfo, BackupReport};
pub use sqlite::{Durability, SqliteOptions};
pub use stats::{StoreStats, WriterMetrics};
pub use totp::{RawTotp, TotpFactor};

/// Online backup and restore of a SQLite database file (PostgreSQL has its own tools:
/// `pg_dump`, base backups).
pub mod sqlite_backup {
    pub use crate::sqlite::backup::{backup, check, restore};
}
pub use webhooks::{AttemptRow, BreakerRow, DeadLetter, Replay, WebhookRow};

/// The storage handle. Cheap to clone; all clones share the same connections.
#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    statements: Arc<AtomicU64>,
    /// The field-encryption keys (see `sealing.rs` for where they are used); `None` when the
    /// deployment has none, which only collections without encrypted fields tolerate.
    keys: Option<Arc<KeyRing>>,
    /// The query shapes this node recorded (see `shapes/book.rs`).
    shapes: Arc<ShapeBook>,
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

mod advisor;

pub use advisor::{AdvisedRead, IndexScans, PlanReading, Verification};

impl Store {
    /// Opens (creating if needed) an embedded SQLite database.
    pub async fn open_sqlite(options: SqliteOptions) -> Result<Self, StoreError> {
        let store = sqlite::SqliteStore::open(options).await?;
        Ok(Self {
            backend: Arc::new(Backend::Sqlite(store)),
            statements: Arc::default(),
            keys: None,
            shapes: Arc::default(),
        })
    }

    /// Connects to a PostgreSQL database, creating Fathom's own tables if they are missing.
    /// Fails with [`StoreErrorKind::Unavailable`] (naming the server) when it cannot connect.
    pub async fn open_postgres(options: PostgresOptions) -> Result<Self, StoreError> {
        let store = postgres::PgStore::open(options).await?;
        Ok(Self {
            backend: Arc::new(Backend::Postgres(store)),
            statements: Arc::default(),
            keys: None,
            shapes: Arc::default(),
        })
    }

    /// The same store, encrypting and decrypting fields with `keys`. Set it before cloning the
    /// handle out: clones made earlier keep the keys they had.
    #[must_use]
    pub fn with_key_ring(mut self, keys: Arc<KeyRing>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The field-encryption key ring, if the store has one.
    pub fn key_ring(&self) -> Option<&KeyRing> {
        self.keys.as_deref()
    }

    /// Decrypts the encrypted fields of an event's record copy (the outbox holds ciphertext).
    /// Only readers that may see the record call it: the change feed and realtime delivery.
    pub fn reveal_event(
        &self,
        collection: &Collection,
        event: &mut Event,
    ) -> Result<(), StoreError> {
        match &mut event.record {
            // A key ring means a field turned off may still hold ciphertexts.
            Some(record) if collection.has_encrypted_fields() || self.keys.is_some() => {
                sealing::open_json(self.key_ring(), collection, event.record_id, record)
            }
            _ => Ok(()),
        }
    }

    /// How many stored values of every encrypted field of `schema` each data key protects
    /// (every tenant's rows, soft-deleted ones included).
    pub async fn key_usage(&self, schema: &Schema) -> Result<Vec<KeyUsage>, StoreError> {
        let mut out = Vec::new();
        for collection in schema.collections.values() {
            for field in collection.fields.iter().filter(|f| f.encrypted) {
                let counts: Vec<(String, i64)> =
                    dispatch!(self, key_usage(Arc::clone(collection), field.name.clone()))?;
                out.extend(counts.into_iter().map(|(key, n)| KeyUsage {
                    collection: collection.name.clone(),
                    field: field.name.clone(),
                    key,
                    values: u64::try_from(n).unwrap_or(0),
                }));
            }
        }
        Ok(out)
    }

    /// Re-encrypts, under the key ring's writing key, the values of at most `limit` records of
    /// `collection` that hold a ciphertext under another key (or plaintext, left from before a
    /// field was encrypted), in one transaction (see `convert.rs`); returns how many records the
    /// batch held (0: nothing left to rotate).
    pub async fn reseal_batch(
        &self,
        collection: Arc<Collection>,
        limit: u32,
    ) -> Result<usize, StoreError> {
        let conversion = Conversion {
            collection,
            decrypting: Vec::new(),
        };
        Ok(self.convert_batch(&conversion, None, limit).await?.records)
    }

    /// The conversions `schema` asks of the stored values, one per collection with an
    /// encrypted field or a field that was encrypted in an earlier migration, each with how
    /// many records are not yet in the target form (see `convert.rs`).
    pub async fn conversions(&self, schema: &Schema) -> Result<Vec<(Conversion, u64)>, StoreError> {
        let history = self.history().await?;
        let mut out = Vec::new();
        for collection in schema.collections.values() {
            let decrypting: Vec<String> = collection
                .fields
                .iter()
                .filter(|f| !f.encrypted)
                .filter(|f| {
                    history.iter().any(|m| {
                        m.schema
                            .collection(&collection.name)
                            .and_then(|c| c.field(&f.name))
                            .is_some_and(|old| old.encrypted)
                    })
                })
                .map(|f| f.name.clone())
                .collect();
            let conversion = Conversion {
                collection: Arc::clone(collection),
                decrypting,
            };
            if conversion.is_empty() {
                continue;
            }
            let remaining = self.convert_remaining(&conversion).await?;
            out.push((conversion, remaining));
        }
        Ok(out)
    }

    /// How many records of the conversion are not yet in the target form.
    pub async fn convert_remaining(&self, conversion: &Conversion) -> Result<u64, StoreError> {
        // Without a key ring, every stored value of an encrypted field counts (no key id is
        // empty, so no ciphertext starts with this prefix).
        let prefix = convert::current_prefix(self.keys.as_ref().map_or("", |k| k.writing_key()));
        let n = dispatch!(
            self,
            convert_remaining(Arc::new(conversion.clone()), prefix)
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Brings at most `limit` records of the conversion after the record `after` (from the
    /// start when `None`) to their target form, in one transaction; the result's `last` is where
    /// the next batch starts, and `records == 0` means the pass is over.
    pub async fn convert_batch(
        &self,
        conversion: &Conversion,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Converted, StoreError> {
        if conversion.is_empty() {
            return Ok(Converted::default());
        }
        let keys = self.keys.clone().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::EncryptionUnavailable,
                "converting encrypted fields needs the key ring",
            )
        })?;
        dispatch!(
            self,
            convert(
                Arc::new(conversion.clone()),
                keys,
                after.map(str::to_owned),
                limit.max(1)
            )
        )
    }

    /// Brings at most `limit` of the outbox's copies of the conversion's records, from sequence
    /// `after` on, to their target form, in one transaction (see `convert.rs`).
    pub async fn convert_events_batch(
        &self,
        conversion: &Conversion,
        after: i64,
        limit: u32,
    ) -> Result<ConvertedEvents, StoreError> {
        if conversion.is_empty() {
            return Ok(ConvertedEvents::default());
        }
        let keys = self.keys.clone().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::EncryptionUnavailable,
                "converting encrypted fields needs the key ring",
            )
        })?;
        dispatch!(
            self,
            convert_events(Arc::new(conversion.clone()), keys, after, limit.max(1))
        )
    }

    /// After values were replaced by their ciphertexts: on SQLite, rewrites the file without
    /// free pages and empties the write-ahead log, so no replaced copy remains; returns whether
    /// the log could be emptied. PostgreSQL: nothing (its `VACUUM` and WAL are the operator's;
    /// see docs/ENCRYPTION.md), returns false.
    pub async fn scrub(&self) -> Result<bool, StoreError> {
        dispatch!(self, scrub())
    }

    /// Which database this store runs on: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The client span of one database operation (see `spans.rs`).
    fn span(&self, operation: &'static str, collection: &str) -> tracing::Span {
        let system = match &*self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgresql",
        };
        spans::operation(system, operation, collection)
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
        let ticket = self.shapes.ticket(&Probe {
            collection: &collection,
            kind: ShapeKind::Get,
            scope,
            filter: None,
            sort: &[],
            expand: &[],
            limit: None,
            offset: false,
            cursor: false,
        });
        let started = std::time::Instant::now();
        let span = self.span("SELECT", &collection.name);
        let (mut record, scan) =
            async { dispatch!(self, get(scope.clone(), Arc::clone(&collection), id)) }
                .instrument(span)
                .await?;
        if let Some(ticket) = ticket {
            self.shapes.record(
                ticket,
                &Sample::of(started, u64::from(record.is_some()), scan),
            );
        }
        if let Some(record) = &mut record {
            sealing::open_record(self.key_ring(), &collection, record)?;
        }
        Ok(record)
    }

    /// Live records matching the query, in its order.
    pub async fn list(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<Record>, StoreError> {
        self.list_with(scope, collection, query, Deleted::Hidden)
            .await
    }

    /// [`Store::list`] reading the deleted records of a soft-delete collection too, or only
    /// them (`deleted`); for administrators.
    pub async fn list_with(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        query: ListQuery,
        deleted: Deleted,
    ) -> Result<Vec<Record>, StoreError> {
        self.list_expanding(scope, collection, query, deleted, &[])
            .await
    }

    /// [`Store::list_with`] for an answer that expands the relation paths `expand` (the API's
    /// `expand`), which the store does not see otherwise: they are part of the read's recorded
    /// shape.
    pub async fn list_expanding(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        mut query: ListQuery,
        deleted: Deleted,
        expand: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        self.count_statement();
        sealing::blind_list(self.key_ring(), &mut query)?;
        let ticket = self.shapes.ticket(&Probe {
            collection: &collection,
            kind: ShapeKind::List,
            scope,
            filter: query.filter.as_ref(),
            sort: &query.sort,
            expand,
            limit: Some(query.limit),
            offset: query.offset > 0,
            cursor: query.after.is_some(),
        });
        let started = std::time::Instant::now();
        let span = self.span("SELECT", &collection.name);
        let (mut records, scan) = async {
            dispatch!(
                self,
                list(scope.clone(), Arc::clone(&collection), query, deleted)
            )
        }
        .instrument(span)
        .await?;
        if let Some(ticket) = ticket {
            let rows = u64::try_from(records.len()).unwrap_or(u64::MAX);
            self.shapes.record(ticket, &Sample::of(started, rows, scan));
        }
        for record in &mut records {
            sealing::open_record(self.key_ring(), &collection, record)?;
        }
        Ok(records)
    }

    /// The number of live records matching `filter`.
    pub async fn count(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        filter: Option<Filter>,
    ) -> Result<u64, StoreError> {
        self.count_with(scope, collection, filter, Deleted::Hidden)
            .await
    }

    /// [`Store::count`] with the records `deleted` says.
    pub async fn count_with(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        mut filter: Option<Filter>,
        deleted: Deleted,
    ) -> Result<u64, StoreError> {
        self.count_statement();
        if let Some(filter) = &mut filter {
            sealing::blind_filter(self.key_ring(), filter)?;
        }
        let ticket = self.shapes.ticket(&Probe {
            collection: &collection,
            kind: ShapeKind::Count,
            scope,
            filter: filter.as_ref(),
            sort: &[],
            expand: &[],
            limit: None,
            offset: false,
            cursor: false,
        });
        let started = std::time::Instant::now();
        let span = self.span("SELECT", &collection.name);
        let (n, scan) =
            async { dispatch!(self, count(scope.clone(), collection, filter, deleted)) }
                .instrument(span)
                .await?;
        if let Some(ticket) = ticket {
            self.shapes.record(ticket, &Sample::of(started, n, scan));
        }
        Ok(n)
    }

    /// The database's plan for a list query, one line per step (for tests and the architect).
    pub async fn explain(
        &self,
        scope: &Scope,
        collection: Arc<Collection>,
        mut query: ListQuery,
    ) -> Result<Vec<String>, StoreError> {
        sealing::blind_list(self.key_ring(), &mut query)?;
        dispatch!(self, explain(scope.clone(), collection, query))
    }

    /// Runs every operation of the unit of work in one transaction: all or nothing. Returns one
    /// result per operation, in order, once the transaction is durable.
    pub async fn execute(&self, work: UnitOfWork) -> Result<Vec<WriteResult>, StoreError> {
        self.count_statement();
        let work = sealing::seal_unit(self.key_ring(), work)?;
        let collections: Vec<Arc<Collection>> = work
            .ops
            .iter()
            .map(|op| Arc::clone(op.collection()))
            .collect();
        let span = self.span(
            spans::write_operation(&work.ops),
            collections.first().map_or("", |c| c.name.as_str()),
        );
        let mut results = async { dispatch!(self, execute(work)) }
            .instrument(span)
            .await?;
        let collections: Vec<&Collection> = collections.iter().map(AsRef::as_ref).collect();
        sealing::open_results(self.key_ring(), &collections, &mut results)?;
        Ok(results)
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
    /// latest and never one after the position of a cursor named in `held_by` (the delivery
    /// cursors whose consumers still need their events: enabled webhook endpoints, configured
    /// broker sinks; read in the same statement's snapshot as the bound); returns how many. The
    /// pruner calls it until it returns less than a batch.
    pub async fn prune_events(
        &self,
        retention: Retention,
        held_by: Vec<String>,
    ) -> Result<usize, StoreError> {
        dispatch!(self, prune_events(retention, held_by))
    }

    /// Up to `limit` ids of records of `collection` soft-deleted before `before` (a canonical
    /// timestamp, as `fathom_schema::value` writes them), in every tenant, oldest first: what
    /// `fathom purge` removes, each with a [`WriteOp::Purge`].
    pub async fn purgeable(
        &self,
        collection: Arc<Collection>,
        before: &str,
        limit: u64,
    ) -> Result<Vec<Uuid>, StoreError> {
        dispatch!(self, purgeable(collection, before.to_owned(), limit))
    }

    /// The live idempotency record of `caller` and `key` (younger than `ttl`), if any.
    pub async fn idempotency_record(
        &self,
        caller: &str,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        dispatch!(
            self,
            idempotency_record(caller.to_owned(), key.to_owned(), ttl)
        )
    }

    /// Removes the idempotency records older than `ttl`; returns how many.
    pub async fn prune_idempotency(&self, ttl: std::time::Duration) -> Result<usize, StoreError> {
        dispatch!(self, prune_idempotency(ttl))
    }

    /// How many record reads and writes this handle has run, each one round trip to the
    /// database; tests use it to prove that expansion never issues one query per record.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The store's load now: the SQLite writer's queue and group commits, or the PostgreSQL
    /// pool's connections (for `/metrics`).
    pub fn stats(&self) -> StoreStats {
        match &*self.backend {
            Backend::Sqlite(s) => s.pool.stats(),
            Backend::Postgres(p) => {
                let status = p.pool.status();
                StoreStats::Postgres {
                    size: status.size,
                    available: status.available,
                    waiting: status.waiting,
                    max_size: status.max_size,
                }
            }
        }
    }

    fn count_statement(&self) {
        self.statements.fetch_add(1, Ordering::Relaxed);
    }
}
