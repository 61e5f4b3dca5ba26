//! Idempotency records on PostgreSQL: the table, the upsert a keyed unit of work runs in its
//! transaction (a concurrent insert of the same key, from any node, waits for this transaction
//! and then finds the row live), lookups, and pruning.

use deadpool_postgres::GenericClient;

use crate::error::{StoreError, StoreErrorKind, from_postgres};
use crate::idempotency::{
    Idempotency, IdempotencyRecord, LOOKUP_SQL, PRUNE_SQL, StoredResponse, UPSERT_SQL, cutoff_ms,
    decode_headers, encode_headers, now_ms,
};
use crate::record::WriteResult;

pub(crate) const TABLE: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_idempotency\" (
    \"caller\" text NOT NULL,
    \"key\" text NOT NULL,
    \"fingerprint\" text NOT NULL,
    \"status\" integer NOT NULL,
    \"headers\" text NOT NULL,
    \"body\" text NOT NULL,
    \"created_at\" bigint NOT NULL,
    PRIMARY KEY (\"caller\", \"key\")
);
CREATE INDEX IF NOT EXISTS \"_fathom_idempotency_created_at\" ON \"_fathom_idempotency\" (\"created_at\");";

/// Stores the unit's response; fails with `IdempotencyConflict` when a live record holds the key.
pub(crate) async fn store<C: GenericClient>(
    tx: &C,
    idempotency: &Idempotency,
    results: &[WriteResult],
) -> Result<(), StoreError> {
    let response = (idempotency.render.0)(results);
    let status = i32::from(response.status);
    let headers = encode_headers(&response.headers);
    let (created, cutoff) = (now_ms(), cutoff_ms(idempotency.ttl));
    let statement = tx.prepare_cached(UPSERT_SQL).await.map_err(from_postgres)?;
    let rows = tx
        .query(
            &statement,
            &[
                &idempotency.caller,
                &idempotency.key,
                &idempotency.fingerprint,
                &status,
                &headers,
                &response.body,
                &created,
                &cutoff,
            ],
        )
        .await
        .map_err(from_postgres)?;
    if rows.is_empty() {
        return Err(StoreError::new(
            StoreErrorKind::IdempotencyConflict,
            "a live idempotency record holds this key",
        ));
    }
    Ok(())
}

pub(crate) async fn lookup<C: GenericClient>(
    client: &C,
    caller: &str,
    key: &str,
    ttl: std::time::Duration,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let cutoff = cutoff_ms(ttl);
    let statement = client
        .prepare_cached(LOOKUP_SQL)
        .await
        .map_err(from_postgres)?;
    let Some(row) = client
        .query_opt(&statement, &[&caller, &key, &cutoff])
        .await
        .map_err(from_postgres)?
    else {
        return Ok(None);
    };
    let status: i32 = row.try_get(1).map_err(from_postgres)?;
    let headers: String = row.try_get(2).map_err(from_postgres)?;
    Ok(Some(IdempotencyRecord {
        fingerprint: row.try_get(0).map_err(from_postgres)?,
        response: StoredResponse {
            status: u16::try_from(status).unwrap_or(500),
            headers: decode_headers(&headers),
            body: row.try_get(3).map_err(from_postgres)?,
        },
    }))
}

pub(crate) async fn prune<C: GenericClient>(
    client: &C,
    ttl: std::time::Duration,
) -> Result<usize, StoreError> {
    let cutoff = cutoff_ms(ttl);
    let removed = client
        .execute(PRUNE_SQL, &[&cutoff])
        .await
        .map_err(from_postgres)?;
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}
