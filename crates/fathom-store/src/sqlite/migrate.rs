//! Migrations on SQLite: the history table, planning against live data, and applying a plan in
//! one transaction.

use std::collections::HashMap;

use fathom_schema::diff::Renaming;
use fathom_schema::{Schema, diff};
use rusqlite::{Connection, OptionalExtension, params};

use super::ddl;
use crate::error::{StoreError, StoreErrorKind, from_sqlite};
use crate::plan::{
    AppliedMigration, Duplicates, LiveData, MigrationPlan, Probe, duplicate_probes, explain_failure,
};

/// Creates Fathom's own tables if they are missing. Idempotent.
pub(crate) fn ensure_system_tables(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS \"_fathom_secrets\" (
            \"name\" TEXT PRIMARY KEY NOT NULL,
            \"secret\" BLOB NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS \"_fathom_migrations\" (
            \"version\" INTEGER PRIMARY KEY NOT NULL,
            \"applied_at\" TEXT NOT NULL,
            \"schema\" TEXT NOT NULL,
            \"statements\" TEXT NOT NULL
        ) STRICT",
    )
    .map_err(from_sqlite)?;
    conn.execute_batch(super::cursors::TABLES)
        .map_err(from_sqlite)?;
    conn.execute_batch(crate::webhooks::SQLITE_TABLES)
        .map_err(from_sqlite)?;
    conn.execute_batch(include_str!("identity.sql"))
        .map_err(from_sqlite)?;
    conn.execute_batch(include_str!("totp.sql"))
        .map_err(from_sqlite)?;
    conn.execute_batch(include_str!("oauth.sql"))
        .map_err(from_sqlite)?;
    conn.execute_batch(include_str!("passkeys.sql"))
        .map_err(from_sqlite)?;
    conn.execute_batch(crate::shapes::persist::SQLITE_TABLE)
        .map_err(from_sqlite)
}

fn row_to_migration(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn decode(raw: (i64, String, String, String)) -> Result<AppliedMigration, StoreError> {
    let (version, applied_at, schema, statements) = raw;
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
        applied_at,
        schema,
        statements,
    })
}

const SELECT_MIGRATIONS: &str =
    "SELECT \"version\", \"applied_at\", \"schema\", \"statements\" FROM \"_fathom_migrations\"";

pub(crate) fn latest(conn: &Connection) -> Result<Option<AppliedMigration>, StoreError> {
    let sql = format!("{SELECT_MIGRATIONS} ORDER BY \"version\" DESC LIMIT 1");
    let raw = conn
        .query_row(&sql, [], row_to_migration)
        .optional()
        .map_err(from_sqlite)?;
    raw.map(decode).transpose()
}

pub(crate) fn history(conn: &Connection) -> Result<Vec<AppliedMigration>, StoreError> {
    let sql = format!("{SELECT_MIGRATIONS} ORDER BY \"version\"");
    let mut statement = conn.prepare(&sql).map_err(from_sqlite)?;
    let rows = statement
        .query_map([], row_to_migration)
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite).and_then(decode))
        .collect()
}

struct Counts<'c> {
    conn: &'c Connection,
    /// Shared values under each new unique index, by collection and index name.
    duplicates: HashMap<(String, String), Duplicates>,
}

impl LiveData for Counts<'_> {
    fn row_count(&self, table: &str) -> Result<u64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", ddl::ident(table));
        let n: i64 = self
            .conn
            .query_row(&sql, [], |r| r.get(0))
            .map_err(from_sqlite)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn duplicates(&self, collection: &str, index: &str) -> Option<&Duplicates> {
        self.duplicates
            .get(&(collection.to_owned(), index.to_owned()))
    }
}

/// Runs one duplicate probe: its rows are the shared tuples, each with its record count and
/// the number of shared tuples in all.
fn probe(conn: &Connection, probe: &Probe) -> Result<Duplicates, StoreError> {
    let mut statement = conn.prepare(&probe.sql).map_err(from_sqlite)?;
    let mut rows = statement.query([]).map_err(from_sqlite)?;
    let mut found = Duplicates::default();
    while let Some(row) = rows.next().map_err(from_sqlite)? {
        let values = (0..probe.columns)
            .map(|i| row.get::<_, String>(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(from_sqlite)?;
        let count: i64 = row.get(probe.columns).map_err(from_sqlite)?;
        let groups: i64 = row.get(probe.columns + 1).map_err(from_sqlite)?;
        found.groups = u64::try_from(groups).unwrap_or(0);
        found
            .examples
            .push((values, u64::try_from(count).unwrap_or(0)));
    }
    Ok(found)
}

/// Plans the migration from the latest applied schema to `desired` against the live data.
pub(crate) fn plan(conn: &Connection, desired: &Schema) -> Result<MigrationPlan, StoreError> {
    let applied = latest(conn)?;
    let (from_version, applied_schema) = match applied {
        Some(m) => (m.version, m.schema),
        None => (0, Schema::default()),
    };
    let changes = diff(&applied_schema, desired);
    let mut duplicates = HashMap::new();
    for p in duplicate_probes(&applied_schema, desired, &changes) {
        let found = probe(conn, &p)?;
        let (key, found) = p.finish(found);
        duplicates.insert(key, found);
    }
    let carried = Renaming::between(&applied_schema, desired).carried_schema(&applied_schema);
    let live = Counts { conn, duplicates };
    let steps = ddl::plan_steps(&carried, desired, &changes, &live)?;
    Ok(MigrationPlan {
        from_version,
        steps,
    })
}

/// Plans and applies in one transaction with foreign-key enforcement suspended (the rebuild recipe
/// needs it) and a full foreign-key check before commit. Any failure rolls everything back.
pub(crate) fn migrate(
    conn: &mut Connection,
    desired: &Schema,
    allow_unsafe: bool,
) -> Result<MigrationPlan, StoreError> {
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(from_sqlite)?;
    let outcome = (|| {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(from_sqlite)?;
        let plan = plan(&tx, desired)?;
        if plan.is_empty() {
            return Ok(plan);
        }
        if plan.is_unsafe() && !allow_unsafe {
            return Err(StoreError::new(
                StoreErrorKind::UnsafeMigration(Box::new(plan)),
                "the migration has unsafe steps",
            ));
        }
        for statement in plan.statements() {
            tx.execute_batch(statement)
                .map_err(|e| explain_failure(&plan, statement, from_sqlite(e)))?;
        }
        let violations: i64 = tx
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .map_err(from_sqlite)?;
        if violations > 0 {
            return Err(StoreError::new(
                StoreErrorKind::ForeignKeyViolation,
                format!(
                    "the migration would leave {violations} records pointing at missing records"
                ),
            ));
        }
        let statements: Vec<&str> = plan.statements().collect();
        let snapshot = serde_json::to_string(desired)
            .map_err(|e| StoreError::internal(format!("encoding the schema snapshot: {e}")))?;
        let statements = serde_json::to_string(&statements)
            .map_err(|e| StoreError::internal(format!("encoding the statements: {e}")))?;
        tx.execute(
            "INSERT INTO \"_fathom_migrations\" (\"version\", \"applied_at\", \"schema\", \"statements\") VALUES (?1, ?2, ?3, ?4)",
            params![plan.from_version + 1, fathom_schema::value::now_timestamp(), snapshot, statements],
        )
        .map_err(from_sqlite)?;
        super::audit::append(&tx, &[crate::audit::migration(&plan)])?;
        tx.commit().map_err(from_sqlite)?;
        Ok(plan)
    })();
    let restored = conn
        .execute_batch("PRAGMA foreign_keys = ON")
        .map_err(from_sqlite);
    let plan = outcome?;
    restored?;
    Ok(plan)
}

/// Reads the secret `name`, creating it from the operating system's CSPRNG on first use.
pub(crate) fn secret(conn: &mut Connection, name: &str) -> Result<[u8; 32], StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(from_sqlite)?;
    let existing: Option<Vec<u8>> = tx
        .query_row(
            "SELECT \"secret\" FROM \"_fathom_secrets\" WHERE \"name\" = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(from_sqlite)?;
    if let Some(bytes) = existing {
        return <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            StoreError::internal(format!("the stored secret `{name}` is not 32 bytes"))
        });
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::internal(format!("the OS random source failed: {e}")))?;
    tx.execute(
        "INSERT INTO \"_fathom_secrets\" (\"name\", \"secret\") VALUES (?1, ?2)",
        params![name, bytes.to_vec()],
    )
    .map_err(from_sqlite)?;
    tx.commit().map_err(from_sqlite)?;
    Ok(bytes)
}
