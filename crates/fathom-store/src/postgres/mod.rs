//! The PostgreSQL backend: a pool of connections (deadpool), statements prepared once per
//! connection and bound by type ([`values`]), migrations serialised across nodes by an advisory
//! lock ([`migrate`]), and tenant isolation in depth: besides the central tenant filter in every
//! statement, tenant-scoped tables carry row-level security keyed on transaction-local settings
//! ([`scope`]), so a pooled connection never carries one request's tenant into the next.

pub(crate) mod accounts;
pub(crate) mod advisor;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod cursors;
pub(crate) mod ddl;
mod events;
mod idempotency;
pub(crate) mod identity;
mod migrate;
mod numeric;
pub(crate) mod oauth;
pub(crate) mod passkeys;
pub(crate) mod plan;
mod records;
mod scope;
pub mod scratch;
mod sessions;
#[cfg(test)]
mod tests;
pub(crate) mod totp;
mod values;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use fathom_query::Filter;
use fathom_schema::{Collection, Schema};
use tokio_postgres::NoTls;
use uuid::Uuid;

use crate::error::{StoreError, StoreErrorKind, from_postgres};
use crate::events::{EventPage, Retention};
use crate::plan::{AppliedMigration, MigrationPlan};
use crate::record::{ListQuery, Record, Scope, UnitOfWork, WriteResult};

/// How to reach the PostgreSQL database.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database?options` (or libpq's `key=value` form).
    pub url: String,
    /// The most connections this node keeps open.
    pub max_connections: usize,
    /// How long to wait to connect, or for a free pooled connection, before answering
    /// "unavailable".
    pub acquire_timeout: Duration,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PostgresOptions")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) struct PgStore {
    pub(crate) pool: Pool,
    /// Boxed: the driver's configuration is large and only read to open dedicated connections.
    config: Box<tokio_postgres::Config>,
    /// "user@host:port/database", for messages (never the password).
    target: String,
    /// The latest committed event sequence, advanced by the follower (`events::follow`) on every
    /// node's commits, this one's included (their NOTIFY arrives as they commit).
    watch: Arc<tokio::sync::watch::Sender<i64>>,
    /// The applied schema, for the relations a hard delete cascades along.
    pub(crate) schemas: crate::cascade::SchemaCache,
}

/// Describes where a configuration points, without its password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("(no user)"),
        config.get_dbname().unwrap_or("(default database)")
    )
}

impl PgStore {
    pub(crate) async fn open(options: PostgresOptions) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&options.url).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Internal,
                format!("the PostgreSQL URL does not parse: {e}"),
            )
        })?;
        if config.get_application_name().is_none() {
            config.application_name("fathom");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.acquire_timeout);
        }
        let target = describe(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.acquire_timeout))
            .recycle_timeout(Some(options.acquire_timeout))
            .build()
            .map_err(|e| StoreError::internal(format!("building the connection pool: {e}")))?;
        let store = Self {
            pool,
            config: Box::new(config),
            target,
            watch: Arc::new(crate::events::new_watch(0)),
            schemas: crate::cascade::SchemaCache::default(),
        };
        let client = store.client().await?;
        let privileged: bool = client
            .query_one(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .await
            .map_err(from_postgres)?
            .get(0);
        if privileged {
            tracing::warn!(
                database = %store.target,
                "connected as a superuser or a role with BYPASSRLS: row-level security does not apply to it, so tenant isolation rests on the store's own filter alone; connect as an ordinary role that owns the database"
            );
        }
        drop(client);
        migrate::ensure_system_tables(&store).await?;
        let latest = events::latest(&store.client().await?).await?;
        crate::events::advance(&store.watch, latest);
        events::spawn_follower((*store.config).clone(), &store.watch);
        Ok(store)
    }

    /// A pooled connection, or why none could be had.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| {
            let mut error = match e {
                PoolError::Backend(e) => from_postgres(e),
                PoolError::Timeout(_) => StoreError::new(
                    StoreErrorKind::Unavailable,
                    "timed out waiting for a database connection",
                ),
                other => StoreError::new(StoreErrorKind::Unavailable, other.to_string()),
            };
            error.detail = format!("PostgreSQL at {}: {}", self.target, error.detail);
            error
        })
    }

    /// A connection outside the pool, for work that holds a session-level lock (migrations):
    /// closing it releases the lock whatever happened.
    pub(crate) async fn dedicated(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| {
            let mut error = from_postgres(e);
            error.detail = format!("PostgreSQL at {}: {}", self.target, error.detail);
            error
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a dedicated PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    /// Statements prepared before another node changed a table can no longer run; forgetting
    /// them lets the next attempt prepare afresh.
    fn after<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result
            && ["[0A000]", "[42P01]", "[42703]", "[26000]"]
                .iter()
                .any(|code| e.detail.contains(code))
        {
            self.pool.manager().statement_caches.clear();
        }
        result
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(drop)
            .map_err(from_postgres)
    }

    pub(crate) async fn applied(&self) -> Result<Option<AppliedMigration>, StoreError> {
        let client = self.client().await?;
        migrate::latest::<tokio_postgres::Client>(&client).await
    }

    pub(crate) async fn history(&self) -> Result<Vec<AppliedMigration>, StoreError> {
        let client = self.client().await?;
        migrate::history::<tokio_postgres::Client>(&client).await
    }

    pub(crate) async fn plan(&self, desired: Schema) -> Result<MigrationPlan, StoreError> {
        let mut client = self.client().await?;
        migrate::plan(&mut client, &desired).await
    }

    pub(crate) async fn migrate(
        &self,
        desired: Schema,
        allow_unsafe: bool,
    ) -> Result<MigrationPlan, StoreError> {
        let result = migrate::migrate(self, &desired, allow_unsafe).await;
        // Tables may have changed shape: statements prepared against the old shape must go.
        self.pool.manager().statement_caches.clear();
        result
    }

    pub(crate) async fn key_usage(
        &self,
        collection: Arc<Collection>,
        field: String,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = values::Sql {
            text: crate::keys::usage_sql(fathom_query::Dialect::Postgres, &collection, &field),
            values: Vec::new(),
        };
        let mut client = self.client().await?;
        let rows = scope::read(
            &mut client,
            &Scope::AllTenants,
            collection.tenant_scoped,
            sql,
        )
        .await?;
        rows.iter()
            .map(|r| Ok((values::get::<String>(r, 0)?, values::get::<i64>(r, 1)?)))
            .collect()
    }

    pub(crate) async fn convert(
        &self,
        conversion: Arc<crate::convert::Conversion>,
        keys: Arc<crate::KeyRing>,
        after: Option<String>,
        limit: u32,
    ) -> Result<crate::convert::Converted, StoreError> {
        use crate::convert;
        let dialect = fathom_query::Dialect::Postgres;
        let prefix = convert::current_prefix(keys.writing_key());
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_postgres)?;
        scope::enter(&tx, &Scope::AllTenants).await?;
        let rows = tx
            .query(
                &convert::stale_select(dialect, &conversion, limit),
                &[&prefix, &after],
            )
            .await
            .map_err(from_postgres)?;
        let mut done = convert::Converted {
            records: rows.len(),
            ..convert::Converted::default()
        };
        let mut rewrites = Vec::new();
        for row in &rows {
            let id: String = values::get(row, 0)?;
            let stored = (1..row.len())
                .map(|i| values::get::<Option<String>>(row, i))
                .collect::<Result<Vec<_>, _>>()?;
            let (found, unopened) = convert::rewrites(&keys, &conversion, &id, stored)?;
            done.unopened += unopened;
            rewrites.extend(found);
            done.last = Some(id);
        }
        // The batch's updates are sent together (tokio-postgres pipelines the statements of
        // one connection that are awaited at once): one round trip per batch, not per value.
        let statements: Vec<(String, Vec<&String>)> = rewrites
            .iter()
            .map(|r| {
                (
                    convert::update_sql(dialect, &conversion.collection, r),
                    r.params(),
                )
            })
            .collect();
        let changed = pipelined(&tx, &statements).await?;
        done.rewritten += changed;
        tx.commit().await.map_err(from_postgres)?;
        Ok(done)
    }

    pub(crate) async fn convert_events(
        &self,
        conversion: Arc<crate::convert::Conversion>,
        keys: Arc<crate::KeyRing>,
        after: i64,
        limit: u32,
    ) -> Result<crate::convert::ConvertedEvents, StoreError> {
        use crate::convert;
        let dialect = fathom_query::Dialect::Postgres;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_postgres)?;
        scope::enter(&tx, &Scope::AllTenants).await?;
        let rows = tx
            .query(
                &convert::events_select(dialect, limit),
                &[&conversion.collection.name, &after],
            )
            .await
            .map_err(from_postgres)?;
        let mut done = convert::ConvertedEvents {
            events: rows.len(),
            last: after,
            rewritten: 0,
        };
        let mut updates = Vec::new();
        for row in &rows {
            let seq: i64 = values::get(row, 0)?;
            let record_id: String = values::get(row, 1)?;
            let stored: String = values::get(row, 2)?;
            if let Some(new) = convert::convert_event(&keys, &conversion, &record_id, &stored)? {
                updates.push([new, seq.to_string(), stored]);
            }
            done.last = seq;
        }
        let statements: Vec<(String, Vec<&String>)> = updates
            .iter()
            .map(|u| {
                (
                    convert::event_update(dialect).to_owned(),
                    u.iter().collect(),
                )
            })
            .collect();
        done.rewritten += pipelined(&tx, &statements).await?;
        tx.commit().await.map_err(from_postgres)?;
        Ok(done)
    }

    pub(crate) async fn convert_remaining(
        &self,
        conversion: Arc<crate::convert::Conversion>,
        prefix: String,
    ) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_postgres)?;
        scope::enter(&tx, &Scope::AllTenants).await?;
        let sql = crate::convert::remaining_sql(fathom_query::Dialect::Postgres, &conversion);
        let row = tx
            .query_one(&sql, &[&prefix])
            .await
            .map_err(from_postgres)?;
        let count: i64 = values::get(&row, 0)?;
        tx.commit().await.map_err(from_postgres)?;
        Ok(count)
    }

    /// PostgreSQL keeps replaced row versions until `VACUUM` and its write-ahead log until it
    /// recycles the segments; neither can be forced from here on a shared cluster (see
    /// docs/ENCRYPTION.md), so nothing is done.
    pub(crate) async fn scrub(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    pub(crate) async fn secret(&self, name: String) -> Result<[u8; 32], StoreError> {
        migrate::secret(&self.client().await?, &name).await
    }

    pub(crate) async fn get(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        id: Uuid,
    ) -> Result<(Option<Record>, crate::shapes::Scan), StoreError> {
        let result = records::get(self, &scope, &collection, id).await;
        // PostgreSQL has no per-statement scan counters; the advisor asks its planner.
        self.after(result)
            .map(|r| (r, crate::shapes::Scan::default()))
    }

    pub(crate) async fn list(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        query: ListQuery,
        deleted: crate::record::Deleted,
    ) -> Result<(Vec<Record>, crate::shapes::Scan), StoreError> {
        let result = records::list(self, &scope, &collection, &query, deleted).await;
        self.after(result)
            .map(|r| (r, crate::shapes::Scan::default()))
    }

    pub(crate) async fn read_plan(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        read: crate::advisor::AdvisedRead,
    ) -> Result<crate::advisor::PlanReading, StoreError> {
        advisor::read_plan(self, &scope, &collection, &read).await
    }

    pub(crate) async fn verify_index(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        read: crate::advisor::AdvisedRead,
        candidate: fathom_schema::Index,
    ) -> Result<crate::advisor::Verification, StoreError> {
        advisor::verify_index(self, &scope, &collection, &read, &candidate).await
    }

    pub(crate) async fn index_scans(
        &self,
        collection: Arc<Collection>,
    ) -> Result<Option<Vec<crate::advisor::IndexScans>>, StoreError> {
        advisor::index_scans(self, &collection).await
    }

    pub(crate) async fn explain(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        query: ListQuery,
    ) -> Result<Vec<String>, StoreError> {
        records::explain(self, &scope, &collection, &query).await
    }

    pub(crate) async fn count(
        &self,
        scope: Scope,
        collection: Arc<Collection>,
        filter: Option<Filter>,
        deleted: crate::record::Deleted,
    ) -> Result<(u64, crate::shapes::Scan), StoreError> {
        let result = records::count(self, &scope, &collection, filter.as_ref(), deleted).await;
        self.after(result)
            .map(|n| (n, crate::shapes::Scan::default()))
    }

    pub(crate) async fn execute(&self, work: UnitOfWork) -> Result<Vec<WriteResult>, StoreError> {
        let result = records::execute(self, &work).await;
        self.after(result)
    }

    pub(crate) async fn events_after(
        &self,
        after: i64,
        limit: usize,
        tenant: Option<String>,
    ) -> Result<EventPage, StoreError> {
        let mut client = self.client().await?;
        events::after(&mut client, after, limit, tenant.as_deref()).await
    }

    pub(crate) fn event_watch(&self) -> tokio::sync::watch::Receiver<i64> {
        self.watch.subscribe()
    }

    pub(crate) async fn prune_events(
        &self,
        retention: Retention,
        held_by: Vec<String>,
    ) -> Result<usize, StoreError> {
        events::prune(&self.client().await?, retention, &held_by).await
    }

    pub(crate) async fn idempotency_record(
        &self,
        caller: String,
        key: String,
        ttl: Duration,
    ) -> Result<Option<crate::IdempotencyRecord>, StoreError> {
        idempotency::lookup(&self.client().await?, &caller, &key, ttl).await
    }

    pub(crate) async fn purgeable(
        &self,
        collection: Arc<Collection>,
        before: String,
        limit: u64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let result = records::purgeable(self, &collection, &before, limit).await;
        self.after(result)
    }

    pub(crate) async fn prune_idempotency(&self, ttl: Duration) -> Result<usize, StoreError> {
        idempotency::prune(&self.client().await?, ttl).await
    }
}

/// Runs `statements` (SQL and text parameters) on `tx` at once, pipelined on its connection;
/// returns how many rows they changed together.
async fn pipelined(
    tx: &deadpool_postgres::Transaction<'_>,
    statements: &[(String, Vec<&String>)],
) -> Result<usize, StoreError> {
    let pending = statements.iter().map(|(sql, params)| {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| *p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        async move { tx.execute(sql.as_str(), &params).await }
    });
    let changed = futures_util::future::try_join_all(pending)
        .await
        .map_err(from_postgres)?;
    Ok(changed
        .into_iter()
        .map(|n| usize::try_from(n).unwrap_or(0))
        .sum())
}
