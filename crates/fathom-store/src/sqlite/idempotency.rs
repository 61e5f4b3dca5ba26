//! Idempotency records on SQLite: the table, the upsert a keyed unit of work runs in its job's
//! savepoint (so a unit that fails stores nothing), lookups on a reader, and pruning.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{StoreError, StoreErrorKind, from_sqlite};
use crate::idempotency::{
    Idempotency, IdempotencyRecord, LOOKUP_SQL, PRUNE_SQL, StoredResponse, UPSERT_SQL, cutoff_ms,
    decode_headers, encode_headers, now_ms,
};
use crate::record::WriteResult;

pub(crate) const TABLE: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_idempotency\" (
    \"caller\" TEXT NOT NULL,
    \"key\" TEXT NOT NULL,
    \"fingerprint\" TEXT NOT NULL,
    \"status\" INTEGER NOT NULL,
    \"headers\" TEXT NOT NULL,
    \"body\" TEXT NOT NULL,
    \"created_at\" INTEGER NOT NULL,
    PRIMARY KEY (\"caller\", \"key\")
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS \"_fathom_idempotency_created_at\" ON \"_fathom_idempotency\" (\"created_at\");";

/// Stores the unit's response; fails with `IdempotencyConflict` when a live record holds the key.
pub(crate) fn store(
    conn: &Connection,
    idempotency: &Idempotency,
    results: &[WriteResult],
) -> Result<(), StoreError> {
    let response = (idempotency.render.0)(results);
    let stored: Option<i64> = conn
        .prepare_cached(UPSERT_SQL)
        .and_then(|mut s| {
            s.query_row(
                params![
                    idempotency.caller,
                    idempotency.key,
                    idempotency.fingerprint,
                    i64::from(response.status),
                    encode_headers(&response.headers),
                    response.body,
                    now_ms(),
                    cutoff_ms(idempotency.ttl),
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(from_sqlite)?;
    match stored {
        Some(_) => Ok(()),
        None => Err(StoreError::new(
            StoreErrorKind::IdempotencyConflict,
            "a live idempotency record holds this key",
        )),
    }
}

pub(crate) fn lookup(
    conn: &Connection,
    caller: &str,
    key: &str,
    ttl: std::time::Duration,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    conn.prepare_cached(LOOKUP_SQL)
        .and_then(|mut s| {
            s.query_row(params![caller, key, cutoff_ms(ttl)], |r| {
                let status: i64 = r.get(1)?;
                let headers: String = r.get(2)?;
                Ok(IdempotencyRecord {
                    fingerprint: r.get(0)?,
                    response: StoredResponse {
                        status: u16::try_from(status).unwrap_or(500),
                        headers: decode_headers(&headers),
                        body: r.get(3)?,
                    },
                })
            })
            .optional()
        })
        .map_err(from_sqlite)
}

pub(crate) fn prune(conn: &Connection, ttl: std::time::Duration) -> Result<usize, StoreError> {
    conn.prepare_cached(PRUNE_SQL)
        .and_then(|mut s| s.execute(params![cutoff_ms(ttl)]))
        .map_err(from_sqlite)
}
