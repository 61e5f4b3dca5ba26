//! Delivery cursors on SQLite (see `crate::cursors`). Every change runs on the single writer,
//! which already serialises the conditional upserts; the lease is judged by this process's clock.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::cursors::{CursorState, Lease, now_ms, ttl_ms};
use crate::error::{StoreError, from_sqlite};

pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_cursors\" (
    \"name\" TEXT PRIMARY KEY NOT NULL,
    \"position\" INTEGER NOT NULL DEFAULT 0,
    \"generation\" INTEGER NOT NULL DEFAULT 1,
    \"holder\" TEXT,
    \"lease_until\" INTEGER
) STRICT;";

pub(crate) fn init(conn: &Connection, name: &str, position: i64) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO \"_fathom_cursors\" (\"name\", \"position\") VALUES (?1, ?2) ON CONFLICT (\"name\") DO NOTHING",
    )
    .and_then(|mut s| s.execute(params![name, position]))
    .map_err(from_sqlite)?;
    conn.prepare_cached("SELECT \"position\" FROM \"_fathom_cursors\" WHERE \"name\" = ?1")
        .and_then(|mut s| s.query_row(params![name], |r| r.get(0)))
        .map_err(from_sqlite)
}

pub(crate) fn acquire(
    conn: &Connection,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>, StoreError> {
    let now = now_ms();
    let until = now.saturating_add(ttl_ms(ttl));
    let row = conn
        .prepare_cached(
            "INSERT INTO \"_fathom_cursors\" (\"name\", \"position\", \"generation\", \"holder\", \"lease_until\")
             VALUES (?1, 0, 1, ?2, ?3)
             ON CONFLICT (\"name\") DO UPDATE SET
                 \"generation\" = CASE WHEN \"holder\" IS excluded.\"holder\" THEN \"generation\" ELSE \"generation\" + 1 END,
                 \"holder\" = excluded.\"holder\",
                 \"lease_until\" = excluded.\"lease_until\"
             WHERE \"holder\" IS NULL OR \"holder\" = excluded.\"holder\" OR \"lease_until\" IS NULL OR \"lease_until\" <= ?4
             RETURNING \"position\", \"generation\"",
        )
        .and_then(|mut s| {
            s.query_row(params![name, holder, until, now], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()
        })
        .map_err(from_sqlite)?;
    Ok(row.map(|(position, generation)| Lease {
        name: name.to_owned(),
        holder: holder.to_owned(),
        generation,
        position,
        until_ms: until,
        ttl,
    }))
}

pub(crate) fn advance(
    conn: &Connection,
    lease: &Lease,
    position: i64,
) -> Result<Option<i64>, StoreError> {
    let until = now_ms().saturating_add(ttl_ms(lease.ttl));
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_cursors\" SET \"position\" = ?1, \"lease_until\" = ?2
             WHERE \"name\" = ?3 AND \"holder\" = ?4 AND \"generation\" = ?5",
        )
        .and_then(|mut s| {
            s.execute(params![
                position,
                until,
                lease.name,
                lease.holder,
                lease.generation
            ])
        })
        .map_err(from_sqlite)?;
    Ok((changed == 1).then_some(until))
}

pub(crate) fn release(conn: &Connection, lease: &Lease) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_cursors\" SET \"holder\" = NULL, \"lease_until\" = NULL
         WHERE \"name\" = ?1 AND \"holder\" = ?2 AND \"generation\" = ?3",
    )
    .and_then(|mut s| s.execute(params![lease.name, lease.holder, lease.generation]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn set(conn: &Connection, name: &str, position: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO \"_fathom_cursors\" (\"name\", \"position\") VALUES (?1, ?2)
         ON CONFLICT (\"name\") DO UPDATE SET \"position\" = excluded.\"position\", \"generation\" = \"generation\" + 1",
    )
    .and_then(|mut s| s.execute(params![name, position]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn remove(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM \"_fathom_cursors\" WHERE \"name\" = ?1")
        .and_then(|mut s| s.execute(params![name]))
        .map(|n| n > 0)
        .map_err(from_sqlite)
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<CursorState>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT \"name\", \"position\", \"generation\", \"holder\", \"lease_until\" FROM \"_fathom_cursors\" ORDER BY \"name\"",
        )
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map([], |r| {
            Ok(CursorState {
                name: r.get(0)?,
                position: r.get(1)?,
                generation: r.get(2)?,
                holder: r.get(3)?,
                lease_until_ms: r.get(4)?,
            })
        })
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}
