//! Migrations on PostgreSQL: the history table, planning against live row counts, and applying
//! a plan with transactional DDL, serialised across every node sharing the database by an
//! advisory lock so that nodes starting together migrate exactly once.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use fathom_schema::diff::Renaming;
use fathom_schema::{Schema, diff};
use time::OffsetDateTime;

use super::PgStore;
use super::ddl::ident;
use super::plan::{plan_steps, runs_concurrently};
use super::values::timestamp_text;
use crate::error::{StoreError, StoreErrorKind, from_postgres};
use crate::plan::{
    AppliedMigration, Duplicates, LiveData, MigrationPlan, Probe, duplicate_probes, explain_failure,
};

/// The advisory lock key every Fathom node takes to create its tables or migrate ("fathommg").
const MIGRATION_LOCK: i64 = 0x6661_7468_6f6d_6d67;

const SYSTEM_TABLES: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_secrets\" (
    \"name\" text PRIMARY KEY,
    \"secret\" bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS \"_fathom_migrations\" (
    \"version\" bigint PRIMARY KEY,
    \"applied_at\" timestamptz NOT NULL,
    \"schema\" text NOT NULL,
    \"statements\" text NOT NULL
);";

/// Creates Fathom's own tables if they are missing, under the migration lock (concurrent
/// `CREATE TABLE IF NOT EXISTS` can collide in PostgreSQL's catalog).
pub(crate) async fn ensure_system_tables(store: &PgStore) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(from_postgres)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(SYSTEM_TABLES)
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(include_str!("identity.sql"))
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(include_str!("totp.sql"))
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(include_str!("oauth.sql"))
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(include_str!("passkeys.sql"))
        .await
        .map_err(from_postgres)?;
    super::audit::upgrade(&*tx).await?;
    tx.batch_execute(super::events::TABLES)
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(super::cursors::TABLES)
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(super::idempotency::TABLE)
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(crate::shapes::persist::POSTGRES_TABLE)
        .await
        .map_err(from_postgres)?;
    tx.batch_execute(crate::webhooks::POSTGRES_TABLES)
        .await
        .map_err(from_postgres)?;
    tx.commit().await.map_err(from_postgres)
}

const SELECT_MIGRATIONS: &str =
    "SELECT \"version\", \"applied_at\", \"schema\", \"statements\" FROM \"_fathom_migrations\"";

fn decode(row: &tokio_postgres::Row) -> Result<AppliedMigration, StoreError> {
    let version: i64 = row.try_get(0).map_err(from_postgres)?;
    let applied_at: OffsetDateTime = row.try_get(1).map_err(from_postgres)?;
    let schema: String = row.try_get(2).map_err(from_postgres)?;
    let statements: String = row.try_get(3).map_err(from_postgres)?;
    let schema: Schema = serde_json::from_str(&schema).map_err(|e| {
        StoreError::internal(format!(
            "decoding the schema snapshot of version {version}: {e}"
        ))
    })?;
    let statements: Vec<String> = serde_json::from_str(&statements).map_err(|e| {
        StoreError::internal(format!("decoding the statements of version {version}: {e}"))
    })?;
    Ok(AppliedMigration {
        version,
        applied_at: timestamp_text(applied_at)?,
        schema,
        statements,
    })
}

pub(crate) async fn latest<C: tokio_postgres::GenericClient>(
    client: &C,
) -> Result<Option<AppliedMigration>, StoreError> {
    let sql = format!("{SELECT_MIGRATIONS} ORDER BY \"version\" DESC LIMIT 1");
    let row = client.query_opt(&sql, &[]).await.map_err(from_postgres)?;
    row.as_ref().map(decode).transpose()
}

pub(crate) async fn history<C: tokio_postgres::GenericClient>(
    client: &C,
) -> Result<Vec<AppliedMigration>, StoreError> {
    let sql = format!("{SELECT_MIGRATIONS} ORDER BY \"version\"");
    let rows = client.query(&sql, &[]).await.map_err(from_postgres)?;
    rows.iter().map(decode).collect()
}

/// Row counts of the applied collections and the shared values under each new unique index,
/// read before planning (planning itself is sync).
struct Counts {
    rows: HashMap<String, u64>,
    duplicates: HashMap<(String, String), Duplicates>,
}

impl LiveData for Counts {
    fn row_count(&self, table: &str) -> Result<u64, StoreError> {
        Ok(self.rows.get(table).copied().unwrap_or(0))
    }

    fn duplicates(&self, collection: &str, index: &str) -> Option<&Duplicates> {
        self.duplicates
            .get(&(collection.to_owned(), index.to_owned()))
    }
}

/// Runs one duplicate probe: its rows are the shared tuples, each with its record count and
/// the number of shared tuples in all.
async fn probe<C: tokio_postgres::GenericClient>(
    client: &C,
    probe: &Probe,
) -> Result<Duplicates, StoreError> {
    let rows = client.query(&probe.sql, &[]).await.map_err(from_postgres)?;
    let mut found = Duplicates::default();
    for row in &rows {
        let values = (0..probe.columns)
            .map(|i| row.try_get::<_, String>(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(from_postgres)?;
        let count: i64 = row.try_get(probe.columns).map_err(from_postgres)?;
        let groups: i64 = row.try_get(probe.columns + 1).map_err(from_postgres)?;
        found.groups = u64::try_from(groups).unwrap_or(0);
        found
            .examples
            .push((values, u64::try_from(count).unwrap_or(0)));
    }
    Ok(found)
}

async fn plan_against<C: tokio_postgres::GenericClient>(
    client: &C,
    desired: &Schema,
) -> Result<MigrationPlan, StoreError> {
    let (from_version, applied) = match latest(client).await? {
        Some(m) => (m.version, m.schema),
        None => (0, Schema::default()),
    };
    // Count every tenant's rows: row-level security would otherwise hide them all, and the
    // plan's risks would be judged against empty tables. The caller runs this in a transaction.
    see_all_tenants(client).await?;
    let mut counts = HashMap::new();
    for name in applied.collections.keys() {
        let sql = format!("SELECT COUNT(*) FROM {}", ident(name));
        let n: i64 = client
            .query_one(&sql, &[])
            .await
            .map_err(from_postgres)?
            .get(0);
        counts.insert(name.clone(), u64::try_from(n).unwrap_or(0));
    }
    let changes = diff(&applied, desired);
    let mut duplicates = HashMap::new();
    for p in duplicate_probes(&applied, desired, &changes) {
        let found = probe(client, &p).await?;
        let (key, found) = p.finish(found);
        duplicates.insert(key, found);
    }
    let live = Counts {
        rows: counts,
        duplicates,
    };
    let carried = Renaming::between(&applied, desired).carried_schema(&applied);
    let steps = plan_steps(&carried, desired, &changes, &live)?;
    Ok(MigrationPlan {
        from_version,
        steps,
    })
}

/// Makes every tenant's rows visible for the rest of the current transaction (migrations work
/// on whole tables).
async fn see_all_tenants<C: tokio_postgres::GenericClient>(client: &C) -> Result<(), StoreError> {
    client
        .execute("SELECT set_config('fathom.all_tenants', 'on', true)", &[])
        .await
        .map(drop)
        .map_err(from_postgres)
}

/// Plans the migration from the latest applied schema to `desired` against the live data.
pub(crate) async fn plan(
    client: &mut tokio_postgres::Client,
    desired: &Schema,
) -> Result<MigrationPlan, StoreError> {
    let tx = client.transaction().await.map_err(from_postgres)?;
    let plan = plan_against(&tx, desired).await?;
    tx.commit().await.map_err(from_postgres)?;
    Ok(plan)
}

/// Plans and applies under the migration lock, on a connection of its own that is closed
/// afterwards (which releases the lock whatever happened). Indexes built CONCURRENTLY run first,
/// outside any transaction; everything else, and the history row, commit together or not at all.
pub(crate) async fn migrate(
    store: &PgStore,
    desired: &Schema,
    allow_unsafe: bool,
) -> Result<MigrationPlan, StoreError> {
    let mut client = store.dedicated().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(from_postgres)?;
    let plan = {
        let tx = client.transaction().await.map_err(from_postgres)?;
        let plan = plan_against(&tx, desired).await?;
        tx.commit().await.map_err(from_postgres)?;
        plan
    };
    if plan.is_empty() {
        return Ok(plan);
    }
    if plan.is_unsafe() && !allow_unsafe {
        return Err(StoreError::new(
            StoreErrorKind::UnsafeMigration(Box::new(plan)),
            "the migration has unsafe steps",
        ));
    }
    let (concurrent, transactional): (Vec<&str>, Vec<&str>) =
        plan.statements().partition(|s| runs_concurrently(s));
    let mut built: Vec<&str> = Vec::new();
    for statement in &concurrent {
        if let Err(e) = client.batch_execute(statement).await {
            built.push(statement);
            drop_built(&client, &built).await;
            return Err(explain_failure(&plan, statement, from_postgres(e)));
        }
        built.push(statement);
    }
    let applied = async {
        let tx = client.transaction().await.map_err(from_postgres)?;
        see_all_tenants(&tx).await?;
        for statement in &transactional {
            tx.batch_execute(statement)
                .await
                .map_err(|e| explain_failure(&plan, statement, from_postgres(e)))?;
        }
        let statements: Vec<&str> = plan.statements().collect();
        let snapshot = serde_json::to_string(desired)
            .map_err(|e| StoreError::internal(format!("encoding the schema snapshot: {e}")))?;
        let statements = serde_json::to_string(&statements)
            .map_err(|e| StoreError::internal(format!("encoding the statements: {e}")))?;
        let now = super::values::parse_timestamp(&fathom_schema::value::now_timestamp())?;
        tx.execute(
            "INSERT INTO \"_fathom_migrations\" (\"version\", \"applied_at\", \"schema\", \"statements\") VALUES ($1, $2, $3, $4)",
            &[&(plan.from_version + 1), &now, &snapshot, &statements],
        )
        .await
        .map_err(from_postgres)?;
        super::audit::append(&tx, &[crate::audit::migration(&plan)]).await?;
        tx.commit().await.map_err(from_postgres)
    }
    .await;
    if let Err(e) = applied {
        drop_built(&client, &built).await;
        return Err(e);
    }
    Ok(plan)
}

/// Drops the indexes a failed migration built concurrently (a failed build leaves an invalid
/// index behind), so that the database is as before. Best effort: a failure is logged.
async fn drop_built(client: &tokio_postgres::Client, statements: &[&str]) {
    for statement in statements {
        let Some(name) = statement
            .split(" CONCURRENTLY ")
            .nth(1)
            .and_then(|rest| rest.split(" ON ").next())
        else {
            continue;
        };
        let sql = format!("DROP INDEX CONCURRENTLY IF EXISTS {name}");
        if let Err(e) = client.batch_execute(&sql).await {
            tracing::warn!(error = %e, index = name, "could not drop an index of a failed migration");
        }
    }
}

/// Reads the secret `name`, creating it on first use. Nodes racing to create it agree: the
/// first insert wins and every node reads the winner.
pub(crate) async fn secret<C: GenericClient>(
    client: &C,
    name: &str,
) -> Result<[u8; 32], StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::internal(format!("the OS random source failed: {e}")))?;
    let insert = client
        .prepare_cached("INSERT INTO \"_fathom_secrets\" (\"name\", \"secret\") VALUES ($1, $2) ON CONFLICT (\"name\") DO NOTHING")
        .await
        .map_err(from_postgres)?;
    client
        .execute(&insert, &[&name, &bytes.as_slice()])
        .await
        .map_err(from_postgres)?;
    let select = client
        .prepare_cached("SELECT \"secret\" FROM \"_fathom_secrets\" WHERE \"name\" = $1")
        .await
        .map_err(from_postgres)?;
    let stored: Vec<u8> = client
        .query_one(&select, &[&name])
        .await
        .map_err(from_postgres)?
        .get(0);
    <[u8; 32]>::try_from(stored.as_slice())
        .map_err(|_| StoreError::internal(format!("the stored secret `{name}` is not 32 bytes")))
}
