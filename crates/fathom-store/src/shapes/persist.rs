//! `_fathom_query_shapes`: where every node flushes its book, so that `fathom advise` (run
//! beside or after the server) and the other nodes see every node's shapes. A flush merges each
//! shape's figures into its row (counts added, maximum and last-seen kept, the histogram added
//! bucket by bucket and the percentiles recomputed from it) in one transaction, shapes in key
//! order so that two nodes flushing at once never deadlock; then it keeps only the `max_shapes`
//! most-called rows, so the table is bounded like the book.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use rusqlite::{Connection, OptionalExtension};

use super::book::Drained;
use super::figures::{Figures, Persisted, to_i64, to_u64};
use super::{QueryShape, ShapeReport};
use crate::error::{StoreError, from_postgres, from_sqlite};

pub(crate) const SQLITE_TABLE: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_query_shapes\" (
    \"key\" TEXT PRIMARY KEY NOT NULL,
    \"collection\" TEXT NOT NULL,
    \"shape\" TEXT NOT NULL,
    \"calls\" INTEGER NOT NULL,
    \"total_micros\" INTEGER NOT NULL,
    \"max_micros\" INTEGER NOT NULL,
    \"p50_micros\" INTEGER NOT NULL,
    \"p95_micros\" INTEGER NOT NULL,
    \"p99_micros\" INTEGER NOT NULL,
    \"rows_returned\" INTEGER NOT NULL,
    \"rows_visited\" INTEGER,
    \"sorts\" INTEGER,
    \"histogram\" TEXT NOT NULL,
    \"last_seen_ms\" INTEGER NOT NULL
) STRICT;";

pub(crate) const POSTGRES_TABLE: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_query_shapes\" (
    \"key\" text PRIMARY KEY,
    \"collection\" text NOT NULL,
    \"shape\" text NOT NULL,
    \"calls\" bigint NOT NULL,
    \"total_micros\" bigint NOT NULL,
    \"max_micros\" bigint NOT NULL,
    \"p50_micros\" bigint NOT NULL,
    \"p95_micros\" bigint NOT NULL,
    \"p99_micros\" bigint NOT NULL,
    \"rows_returned\" bigint NOT NULL,
    \"rows_visited\" bigint,
    \"sorts\" bigint,
    \"histogram\" text NOT NULL,
    \"last_seen_ms\" bigint NOT NULL
);";

const COLUMNS: &str = "\"key\", \"shape\", \"calls\", \"total_micros\", \"max_micros\", \"rows_returned\", \"rows_visited\", \"sorts\", \"histogram\", \"last_seen_ms\"";

/// The raw columns of one row, in [`COLUMNS`] order.
type Row = (
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    i64,
);

fn decode(row: Row) -> Option<Persisted> {
    let (key, shape, calls, total, max, rows, visited, sorts, histogram, last_seen_ms) = row;
    let shape: QueryShape = match serde_json::from_str(&shape) {
        Ok(shape) => shape,
        Err(e) => {
            // A row written by a later build with another shape format: skipped, not fatal.
            tracing::warn!(key, error = %e, "skipping a query shape that does not decode");
            return None;
        }
    };
    Some(Persisted {
        key,
        shape,
        figures: Figures {
            calls: to_u64(calls),
            total_micros: to_u64(total),
            max_micros: to_u64(max),
            rows_returned: to_u64(rows),
            rows_visited: visited.map(to_u64),
            sorts: sorts.map(to_u64),
            histogram: serde_json::from_str(&histogram).unwrap_or_default(),
            last_seen_ms,
        },
    })
}

/// The row's figures after adding `drained`'s.
fn merged(existing: Option<Figures>, drained: &Drained) -> Figures {
    let mut figures = existing.unwrap_or_default();
    figures.merge(&drained.figures);
    figures
}

/// The values of the upsert, in its parameter order (`key` first).
struct Values {
    key: String,
    collection: String,
    shape: String,
    numbers: [i64; 8],
    visited: Option<i64>,
    sorts: Option<i64>,
    histogram: String,
}

fn values(drained: &Drained, figures: &Figures) -> Values {
    let stats = figures.stats();
    Values {
        key: drained.key.to_string(),
        collection: drained.shape.collection.clone(),
        shape: serde_json::to_string(&*drained.shape).unwrap_or_default(),
        numbers: [
            to_i64(stats.calls),
            to_i64(stats.total_micros),
            to_i64(stats.max_micros),
            to_i64(stats.p50_micros),
            to_i64(stats.p95_micros),
            to_i64(stats.p99_micros),
            to_i64(stats.rows_returned),
            stats.last_seen_ms,
        ],
        visited: stats.rows_visited.map(to_i64),
        sorts: stats.sorts.map(to_i64),
        histogram: serde_json::to_string(&figures.histogram).unwrap_or_default(),
    }
}

/// This node's pending figures added to the persisted rows: one report per shape.
pub(crate) fn reports(persisted: Vec<Persisted>, pending: Vec<Drained>) -> Vec<ShapeReport> {
    let mut by_key: HashMap<String, (QueryShape, Figures)> = persisted
        .into_iter()
        .map(|p| (p.key, (p.shape, p.figures)))
        .collect();
    for d in pending {
        by_key
            .entry(d.key.to_string())
            .or_insert_with(|| ((*d.shape).clone(), Figures::default()))
            .1
            .merge(&d.figures);
    }
    let mut out: Vec<ShapeReport> = by_key
        .into_values()
        .map(|(shape, figures)| ShapeReport {
            shape,
            stats: figures.stats(),
        })
        .collect();
    // The busiest first; the shape breaks ties so the order is stable.
    out.sort_by(|a, b| {
        b.stats
            .calls
            .cmp(&a.stats.calls)
            .then_with(|| a.shape.cmp(&b.shape))
    });
    out
}

const SQLITE_SELECT_ONE: &str = "SELECT \"key\", \"shape\", \"calls\", \"total_micros\", \"max_micros\", \"rows_returned\", \"rows_visited\", \"sorts\", \"histogram\", \"last_seen_ms\" FROM \"_fathom_query_shapes\" WHERE \"key\" = ?1";
const SQLITE_UPSERT: &str = "INSERT INTO \"_fathom_query_shapes\" (\"key\", \"collection\", \"shape\", \"calls\", \"total_micros\", \"max_micros\", \"p50_micros\", \"p95_micros\", \"p99_micros\", \"rows_returned\", \"last_seen_ms\", \"rows_visited\", \"sorts\", \"histogram\") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT (\"key\") DO UPDATE SET \"calls\" = excluded.\"calls\", \"total_micros\" = excluded.\"total_micros\", \"max_micros\" = excluded.\"max_micros\", \"p50_micros\" = excluded.\"p50_micros\", \"p95_micros\" = excluded.\"p95_micros\", \"p99_micros\" = excluded.\"p99_micros\", \"rows_returned\" = excluded.\"rows_returned\", \"last_seen_ms\" = excluded.\"last_seen_ms\", \"rows_visited\" = excluded.\"rows_visited\", \"sorts\" = excluded.\"sorts\", \"histogram\" = excluded.\"histogram\"";
const SQLITE_TRIM: &str = "DELETE FROM \"_fathom_query_shapes\" WHERE \"key\" NOT IN (SELECT \"key\" FROM \"_fathom_query_shapes\" ORDER BY \"calls\" DESC, \"last_seen_ms\" DESC LIMIT ?1)";

fn sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

/// Merges `drained` into the table, inside the writer's transaction.
pub(crate) fn sqlite_flush(
    conn: &Connection,
    drained: &[Drained],
    max_shapes: usize,
) -> Result<usize, StoreError> {
    let mut select = conn
        .prepare_cached(SQLITE_SELECT_ONE)
        .map_err(from_sqlite)?;
    let mut upsert = conn.prepare_cached(SQLITE_UPSERT).map_err(from_sqlite)?;
    for d in drained {
        let existing = select
            .query_row([&*d.key], sqlite_row)
            .optional()
            .map_err(from_sqlite)?
            .and_then(decode)
            .map(|p| p.figures);
        let v = values(d, &merged(existing, d));
        let [calls, total, max, p50, p95, p99, rows, last] = v.numbers;
        upsert
            .execute(rusqlite::params![
                v.key,
                v.collection,
                v.shape,
                calls,
                total,
                max,
                p50,
                p95,
                p99,
                rows,
                last,
                v.visited,
                v.sorts,
                v.histogram
            ])
            .map_err(from_sqlite)?;
    }
    conn.execute(SQLITE_TRIM, [to_i64(max_shapes as u64)])
        .map_err(from_sqlite)?;
    Ok(drained.len())
}

/// Every persisted shape.
pub(crate) fn sqlite_read(conn: &Connection) -> Result<Vec<Persisted>, StoreError> {
    let mut statement = conn
        .prepare(&format!("SELECT {COLUMNS} FROM \"_fathom_query_shapes\""))
        .map_err(from_sqlite)?;
    let rows = statement.query_map([], sqlite_row).map_err(from_sqlite)?;
    let mut out = Vec::new();
    for row in rows {
        out.extend(decode(row.map_err(from_sqlite)?));
    }
    Ok(out)
}

const PG_CLAIM: &str = "INSERT INTO \"_fathom_query_shapes\" (\"key\", \"collection\", \"shape\", \"calls\", \"total_micros\", \"max_micros\", \"p50_micros\", \"p95_micros\", \"p99_micros\", \"rows_returned\", \"histogram\", \"last_seen_ms\") VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 0, 0, '[]', 0) ON CONFLICT (\"key\") DO NOTHING";
const PG_SELECT_ONE: &str = "SELECT \"key\", \"shape\", \"calls\", \"total_micros\", \"max_micros\", \"rows_returned\", \"rows_visited\", \"sorts\", \"histogram\", \"last_seen_ms\" FROM \"_fathom_query_shapes\" WHERE \"key\" = $1 FOR UPDATE";
const PG_UPDATE: &str = "UPDATE \"_fathom_query_shapes\" SET \"calls\" = $2, \"total_micros\" = $3, \"max_micros\" = $4, \"p50_micros\" = $5, \"p95_micros\" = $6, \"p99_micros\" = $7, \"rows_returned\" = $8, \"last_seen_ms\" = $9, \"rows_visited\" = $10, \"sorts\" = $11, \"histogram\" = $12 WHERE \"key\" = $1";
const PG_TRIM: &str = "DELETE FROM \"_fathom_query_shapes\" WHERE \"key\" NOT IN (SELECT \"key\" FROM \"_fathom_query_shapes\" ORDER BY \"calls\" DESC, \"last_seen_ms\" DESC LIMIT $1)";

fn pg_row(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let get = |n| row.try_get::<_, i64>(n).map_err(from_postgres);
    let get_opt = |n| row.try_get::<_, Option<i64>>(n).map_err(from_postgres);
    let text = |n| row.try_get::<_, String>(n).map_err(from_postgres);
    Ok((
        text(0)?,
        text(1)?,
        get(2)?,
        get(3)?,
        get(4)?,
        get(5)?,
        get_opt(6)?,
        get_opt(7)?,
        text(8)?,
        get(9)?,
    ))
}

/// Merges `drained` into the table in one transaction: each row is claimed (inserted empty if
/// missing) and locked before it is read, so two nodes flushing the same shape add up.
pub(crate) async fn postgres_flush(
    client: &mut deadpool_postgres::Client,
    drained: &[Drained],
    max_shapes: usize,
) -> Result<usize, StoreError> {
    let tx = client.transaction().await.map_err(from_postgres)?;
    let claim = tx.prepare_cached(PG_CLAIM).await.map_err(from_postgres)?;
    let select = tx
        .prepare_cached(PG_SELECT_ONE)
        .await
        .map_err(from_postgres)?;
    let update = tx.prepare_cached(PG_UPDATE).await.map_err(from_postgres)?;
    for d in drained {
        let key = d.key.to_string();
        let shape = serde_json::to_string(&*d.shape).unwrap_or_default();
        tx.execute(&claim, &[&key, &d.shape.collection, &shape])
            .await
            .map_err(from_postgres)?;
        let row = tx
            .query_one(&select, &[&key])
            .await
            .map_err(from_postgres)?;
        let existing = decode(pg_row(&row)?).map(|p| p.figures);
        let v = values(d, &merged(existing, d));
        let [calls, total, max, p50, p95, p99, rows, last] = v.numbers;
        tx.execute(
            &update,
            &[
                &v.key,
                &calls,
                &total,
                &max,
                &p50,
                &p95,
                &p99,
                &rows,
                &last,
                &v.visited,
                &v.sorts,
                &v.histogram,
            ],
        )
        .await
        .map_err(from_postgres)?;
    }
    tx.commit().await.map_err(from_postgres)?;
    // Trimmed after the commit, holding no row lock of the merge: two nodes trimming while
    // the other merges could otherwise wait on each other.
    client
        .execute(PG_TRIM, &[&to_i64(max_shapes as u64)])
        .await
        .map_err(from_postgres)?;
    Ok(drained.len())
}

/// Every persisted shape.
pub(crate) async fn postgres_read<C: GenericClient>(
    client: &C,
) -> Result<Vec<Persisted>, StoreError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM \"_fathom_query_shapes\""),
            &[],
        )
        .await
        .map_err(from_postgres)?;
    let mut out = Vec::new();
    for row in &rows {
        out.extend(decode(pg_row(row)?));
    }
    Ok(out)
}
