//! The embedded SQLite backend: opening and configuring connections, and the store operations on
//! top of the writer/reader [`pool`].

pub(crate) mod accounts;
pub(crate) mod advisor;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub mod backup;
pub(crate) mod cursors;
pub(crate) mod ddl;
mod events;
mod get_sql;
mod idempotency;
pub(crate) mod identity;
mod migrate;
pub(crate) mod oauth;
pub(crate) mod passkeys;
mod pool;
mod records;
pub(crate) mod totp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fathom_schema::{Collection, Schema};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use crate::cascade::SchemaCache;
use crate::error::{StoreError, StoreErrorKind, from_sqlite};
use crate::events::{EventPage, Retention};
use crate::plan::{AppliedMigration, MigrationPlan};
use crate::record::{ListQuery, Record, Scope, UnitOfWork, WriteResult, removes_row};
use pool::Pool;

/// How hard a commit works to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous = FULL`: an acknowledged write survives power loss. The default.
    #[default]
    Full,
    /// `synchronous = NORMAL`: survives a process crash; the last commits may be lost on power loss.
    Normal,
}

/// How to open the SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; its directory is created if missing.
    pub path: PathBuf,
    /// Reader connections (threads). At least 1.
    pub readers: usize,
    /// How long a connection waits on a lock before reporting the database busy.
    pub busy_timeout: Duration,
    pub durability: Durability,
    /// The most of the database each connection keeps in its page cache, in MiB (SQLite's own
    /// default, 2 MiB, holds a few thousand records: past that every read goes to the file).
    pub cache_mib: u32,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            durability: Durability::Full,
            cache_mib: 32,
        }
    }
}

pub(crate) struct SqliteStore {
    pub(crate) pool: Pool,
    /// The latest committed event sequence, advanced by the writer after every group COMMIT.
    watch: Arc<tokio::sync::watch::Sender<i64>>,
    /// The applied schema, for the relations a hard delete cascades along.
    schemas: Arc<SchemaCache>,
}

/// The applied schema (from the cache while the migration version is unchanged).
pub(super) fn applied_schema(
    conn: &Connection,
    cache: &SchemaCache,
) -> Result<Arc<Schema>, StoreError> {
    let version: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(\"version\"), 0) FROM \"_fathom_migrations\"")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(from_sqlite)?;
    if let Some(schema) = cache.get(version) {
        return Ok(schema);
    }
    let schema = Arc::new(migrate::latest(conn)?.map(|m| m.schema).unwrap_or_default());
    cache.put(version, schema.clone());
    Ok(schema)
}

fn open_connection(options: &SqliteOptions, writer: bool) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&options.path, flags).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Unavailable,
            format!(
                "opening the SQLite database {}: {e}",
                options.path.display()
            ),
        )
    })?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(from_sqlite)?;
    // SQLite's legacy "double-quoted string literal" rule turns an unknown quoted column into a
    // text value; off, a query naming a dropped column fails instead of inventing data.
    for config in [
        DbConfig::SQLITE_DBCONFIG_DQS_DML,
        DbConfig::SQLITE_DBCONFIG_DQS_DDL,
    ] {
        conn.set_db_config(config, false).map_err(from_sqlite)?;
    }
    conn.set_prepared_statement_cache_capacity(256);
    let synchronous = match options.durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    // A negative cache_size counts KiB; the pages are allocated as they are read.
    let cache_kib = i64::from(options.cache_mib) * 1024;
    let pragmas = if writer {
        format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{cache_kib};"
        )
    } else {
        format!(
            "PRAGMA query_only = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{cache_kib};"
        )
    };
    conn.execute_batch(&pragmas).map_err(from_sqlite)?;
    Ok(conn)
}

impl SqliteStore {
    pub(crate) async fn open(options: SqliteOptions) -> Result<Self, StoreError> {
        let watch = Arc::new(crate::events::new_watch(0));
        let on_commit = {
            let watch = watch.clone();
            Box::new(move |conn: &Connection| match events::latest(conn) {
                Ok(latest) => crate::events::advance(&watch, latest),
                Err(e) => {
                    tracing::warn!(error = %e.detail, "reading the event counter after a commit")
                }
            })
        };
        let start_watch = watch.clone();
        let opened = tokio::task::spawn_blocking(move || -> Result<Pool, StoreError> {
            if let Some(dir) = options.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::new(
                        StoreErrorKind::Unavailable,
                        format!("creating the data directory {}: {e}", dir.display()),
                    )
                })?;
            }
            // The writer goes first: it switches the file to WAL and creates the system tables.
            let writer = open_connection(&options, true)?;
            migrate::ensure_system_tables(&writer)?;
            writer.execute_batch(events::TABLES).map_err(from_sqlite)?;
            writer
                .execute_batch(idempotency::TABLE)
                .map_err(from_sqlite)?;
            api_keys::add_creator_column(&writer)?;
            audit::upgrade(&writer)?;
            crate::events::advance(&start_watch, events::latest(&writer)?);
            let readers = (0..options.readers.max(1))
                .map(|_| open_connection(&options, false))
                .collect::<Result<Vec<_>, _>>()?;
            Pool::start(writer, readers, on_commit)
        })
        .await
        .map_err(|e| StoreError::internal(format!("opening the database: {e}")))??;
        Ok(Self {
            pool: opened,
            watch,
            schemas: Arc::default(),
        })
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        self.pool
            .read(|conn| {
                conn.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(from_sqlite)
            })
            .await
    }

    pub(crate) async fn applied(&self) -> Result<Option<AppliedMigration>, StoreError> {
        self.pool.read(migrate::latest).await
    }

    pub(crate) async fn history(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        self.pool.read(migrate::history).await
    }

    pub(crate) async fn plan(&self, desired: Schema) -> Result<MigrationPlan, StoreError> {
        self.pool
            .read(move |conn| migrate::plan(conn, &desired))
            .await
    }

    pub(crate) async fn migrate(
        &self,
        desired: Schema,
        allow_unsafe: bool,
    ) -> Result<MigrationPlan, StoreError> {
        self.pool
            .exclusive(move |conn| migrate::migrate(conn, &desired, allow_unsafe))
            .await
    }

    pub(crate) async fn get(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        id: Uuid,
    ) -> Result<(Option<Record>, crate::shapes::Scan), StoreError> {
        self.pool
            .read(move |conn| records::get(conn, &scope, &collection, id))
            .await
    }

    pub(crate) async fn list(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        query: ListQuery,
        deleted: crate::record::Deleted,
    ) -> Result<(Vec<Record>, crate::shapes::Scan), StoreError> {
        self.pool
            .read(move |conn| records::list(conn, &scope, &collection, &query, deleted))
            .await
    }

    pub(crate) async fn read_plan(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        read: crate::advisor::AdvisedRead,
    ) -> Result<crate::advisor::PlanReading, StoreError> {
        self.pool
            .read(move |conn| advisor::read_plan(conn, &scope, &collection, &read))
            .await
    }

    pub(crate) async fn verify_index(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        read: crate::advisor::AdvisedRead,
        candidate: fathom_schema::Index,
    ) -> Result<crate::advisor::Verification, StoreError> {
        self.pool
            .read(move |conn| advisor::verify_index(conn, &scope, &collection, &read, &candidate))
            .await
    }

    /// SQLite counts no index scans; the advisor judges its indexes by the recorded shapes.
    #[allow(clippy::unused_async)]
    pub(crate) async fn index_scans(
        &self,
        _collection: Arc<Collection>,
    ) -> Result<Option<Vec<crate::advisor::IndexScans>>, StoreError> {
        Ok(None)
    }

    pub(crate) async fn explain(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<String>, StoreError> {
        self.pool
            .read(move |conn| records::explain(conn, &scope, &collection, &query))
            .await
    }

    pub(crate) async fn count(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        filter: Option<fathom_query::Filter>,
        deleted: crate::record::Deleted,
    ) -> Result<(u64, crate::shapes::Scan), StoreError> {
        self.pool
            .read(move |conn| records::count(conn, &scope, &collection, filter.as_ref(), deleted))
            .await
    }

    pub(crate) async fn key_usage(
        &self,
        collection: Arc<Collection>,
        field: String,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = crate::keys::usage_sql(fathom_query::Dialect::Sqlite, &collection, &field);
        self.pool
            .read(move |conn| {
                let mut statement = conn.prepare(&sql).map_err(from_sqlite)?;
                let rows = statement
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(from_sqlite)?;
                rows.map(|r| r.map_err(from_sqlite)).collect()
            })
            .await
    }

    pub(crate) async fn convert(
        &self,
        conversion: Arc<crate::convert::Conversion>,
        keys: Arc<crate::KeyRing>,
        after: Option<String>,
        limit: u32,
    ) -> Result<crate::convert::Converted, StoreError> {
        use crate::convert;
        self.pool
            .write(move |conn| {
                let dialect = fathom_query::Dialect::Sqlite;
                let prefix = convert::current_prefix(keys.writing_key());
                let rows: Vec<(String, Vec<Option<String>>)> = {
                    let mut statement = conn
                        .prepare_cached(&convert::stale_select(dialect, &conversion, limit))
                        .map_err(from_sqlite)?;
                    let columns = statement.column_count();
                    let rows = statement
                        .query_map(rusqlite::params![prefix, after], |r| {
                            let values = (1..columns)
                                .map(|i| r.get::<_, Option<String>>(i))
                                .collect::<Result<Vec<_>, _>>()?;
                            Ok((r.get::<_, String>(0)?, values))
                        })
                        .map_err(from_sqlite)?;
                    rows.collect::<Result<_, _>>().map_err(from_sqlite)?
                };
                let mut done = convert::Converted {
                    records: rows.len(),
                    last: rows.last().map(|(id, _)| id.clone()),
                    ..convert::Converted::default()
                };
                for (id, values) in rows {
                    let (rewrites, unopened) = convert::rewrites(&keys, &conversion, &id, values)?;
                    done.unopened += unopened;
                    for rewrite in rewrites {
                        done.rewritten += conn
                            .prepare_cached(&convert::update_sql(
                                dialect,
                                &conversion.collection,
                                &rewrite,
                            ))
                            .map_err(from_sqlite)?
                            .execute(rusqlite::params_from_iter(rewrite.params()))
                            .map_err(from_sqlite)?;
                    }
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn convert_events(
        &self,
        conversion: Arc<crate::convert::Conversion>,
        keys: Arc<crate::KeyRing>,
        after: i64,
        limit: u32,
    ) -> Result<crate::convert::ConvertedEvents, StoreError> {
        use crate::convert;
        self.pool
            .write(move |conn| {
                let dialect = fathom_query::Dialect::Sqlite;
                let rows: Vec<(i64, String, String)> = {
                    let mut statement = conn
                        .prepare_cached(&convert::events_select(dialect, limit))
                        .map_err(from_sqlite)?;
                    let rows = statement
                        .query_map(rusqlite::params![conversion.collection.name, after], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .map_err(from_sqlite)?;
                    rows.collect::<Result<_, _>>().map_err(from_sqlite)?
                };
                let mut done = convert::ConvertedEvents {
                    events: rows.len(),
                    last: rows.last().map_or(after, |(seq, _, _)| *seq),
                    rewritten: 0,
                };
                for (seq, record_id, stored) in rows {
                    if let Some(new) =
                        convert::convert_event(&keys, &conversion, &record_id, &stored)?
                    {
                        done.rewritten += conn
                            .prepare_cached(convert::event_update(dialect))
                            .map_err(from_sqlite)?
                            .execute(rusqlite::params![new, seq, stored])
                            .map_err(from_sqlite)?;
                    }
                }
                Ok(done)
            })
            .await
    }

    pub(crate) async fn convert_remaining(
        &self,
        conversion: Arc<crate::convert::Conversion>,
        prefix: String,
    ) -> Result<i64, StoreError> {
        let sql = crate::convert::remaining_sql(fathom_query::Dialect::Sqlite, &conversion);
        self.pool
            .read(move |conn| {
                conn.prepare(&sql)
                    .map_err(from_sqlite)?
                    .query_row([&prefix], |r| r.get::<_, i64>(0))
                    .map_err(from_sqlite)
            })
            .await
    }

    /// Rewrites the database file without free pages and empties the write-ahead log, so that
    /// values replaced by their ciphertexts leave no copy behind (`VACUUM`, then a `TRUNCATE`
    /// checkpoint). Returns whether the log could be emptied (a reader holding an old snapshot
    /// keeps it).
    pub(crate) async fn scrub(&self) -> Result<bool, StoreError> {
        self.pool
            .exclusive(|conn| {
                conn.execute_batch("VACUUM").map_err(from_sqlite)?;
                let busy: i64 = conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                    .map_err(from_sqlite)?;
                Ok(busy == 0)
            })
            .await
    }

    pub(crate) async fn secret(&self, name: String) -> Result<[u8; 32], StoreError> {
        self.pool
            .exclusive(move |conn| migrate::secret(conn, &name))
            .await
    }

    pub(crate) async fn execute(&self, work: UnitOfWork) -> Result<Vec<WriteResult>, StoreError> {
        let schemas = self.schemas.clone();
        self.pool
            .write(move |conn| {
                let mut results = Vec::with_capacity(work.ops.len());
                let mut drafts = Vec::with_capacity(work.ops.len());
                for (n, op) in work.ops.iter().enumerate() {
                    if let Some((collection, id)) = removes_row(op) {
                        let schema = applied_schema(conn, &schemas)?;
                        records::cascade(conn, &schema, collection, *id, &mut drafts, 0)
                            .map_err(|e| e.at_operation(n))?;
                    }
                    let (result, draft) =
                        records::apply(conn, &work.scope, op).map_err(|e| e.at_operation(n))?;
                    results.push(result);
                    drafts.extend(draft);
                }
                if let Some(idempotency) = &work.idempotency {
                    idempotency::store(conn, idempotency, &results)?;
                }
                // Last, inside the job's savepoint: a job that fails gives its numbers back.
                events::append(conn, &drafts, &work.origin)?;
                audit::append(conn, &crate::audit::record_entries(&drafts, &work.origin))?;
                Ok(results)
            })
            .await
    }

    pub(crate) async fn idempotency_record(
        &self,
        caller: String,
        key: String,
        ttl: Duration,
    ) -> Result<Option<crate::IdempotencyRecord>, StoreError> {
        self.pool
            .read(move |conn| idempotency::lookup(conn, &caller, &key, ttl))
            .await
    }

    pub(crate) async fn purgeable(
        &self,
        collection: Arc<Collection>,
        before: String,
        limit: u64,
    ) -> Result<Vec<Uuid>, StoreError> {
        self.pool
            .read(move |conn| records::purgeable(conn, &collection, &before, limit))
            .await
    }

    pub(crate) async fn prune_idempotency(&self, ttl: Duration) -> Result<usize, StoreError> {
        self.pool
            .write(move |conn| idempotency::prune(conn, ttl))
            .await
    }

    pub(crate) async fn events_after(
        &self,
        after: i64,
        limit: usize,
        tenant: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.pool
            .read(move |conn| events::after(conn, after, limit, tenant.as_deref()))
            .await
    }

    pub(crate) fn event_watch(&self) -> tokio::sync::watch::Receiver<i64> {
        self.watch.subscribe()
    }

    pub(crate) async fn prune_events(
        &self,
        retention: Retention,
        held_by: Vec<String>,
    ) -> Result<usize, StoreError> {
        let bound = self
            .pool
            .read(move |conn| events::prune_bound(conn, retention, &held_by))
            .await?;
        match bound {
            Some(upto) => {
                self.pool
                    .write(move |conn| events::remove_through(conn, upto))
                    .await
            }
            None => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_double_quoted_columns_are_errors_not_string_literals() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&SqliteOptions::new(dir.path().join("dqs.db")), true).unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x');")
            .unwrap();
        let result: rusqlite::Result<String> =
            conn.query_row("SELECT \"b\" FROM t", [], |r| r.get(0));
        assert!(result.is_err(), "got {result:?}");
    }

    #[test]
    fn every_connection_takes_the_configured_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = SqliteOptions::new(dir.path().join("cache.db"));
        options.cache_mib = 7;
        for writer in [true, false] {
            let conn = open_connection(&options, writer).unwrap();
            let kib: i64 = conn
                .query_row("PRAGMA cache_size", [], |r| r.get(0))
                .unwrap();
            assert_eq!(kib, -7 * 1024, "writer={writer}");
        }
    }
}
