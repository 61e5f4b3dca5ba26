//! Delivery cursors on PostgreSQL (see `crate::cursors`). Taking a lease is one conditional
//! upsert (`INSERT ... ON CONFLICT DO UPDATE ... WHERE`), which PostgreSQL runs under the row's
//! lock, so of several nodes racing for a free or expired lease exactly one gets a row back.
//! Time is the database's (`clock_timestamp()`), so the nodes' own clocks do not matter.

use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::PgStore;
use crate::cursors::{CursorState, Lease, ttl_ms};
use crate::error::{StoreError, from_postgres};

pub(crate) const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS "_fathom_cursors" (
    "name" text PRIMARY KEY,
    "position" bigint NOT NULL DEFAULT 0,
    "generation" bigint NOT NULL DEFAULT 1,
    "holder" text,
    "lease_until" bigint
);"#;

/// The database's clock in milliseconds since the Unix epoch.
const NOW_MS: &str = "(floor(extract(epoch FROM clock_timestamp()) * 1000))::bigint";

pub(crate) async fn init(store: &PgStore, name: &str, position: i64) -> Result<i64, StoreError> {
    let client = store.client().await?;
    let statement = client
        .prepare_cached(
            r#"WITH ins AS (
                   INSERT INTO "_fathom_cursors" ("name", "position") VALUES ($1, $2)
                   ON CONFLICT ("name") DO NOTHING RETURNING "position")
               SELECT "position" FROM ins
               UNION ALL SELECT "position" FROM "_fathom_cursors" WHERE "name" = $1
               LIMIT 1"#,
        )
        .await
        .map_err(from_postgres)?;
    let row = client
        .query_one(&statement, &[&name, &position])
        .await
        .map_err(from_postgres)?;
    row.try_get(0).map_err(from_postgres)
}

pub(crate) async fn acquire(
    store: &PgStore,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<Lease>, StoreError> {
    let client = store.client().await?;
    let sql = format!(
        r#"INSERT INTO "_fathom_cursors" AS c ("name", "position", "generation", "holder", "lease_until")
           VALUES ($1, 0, 1, $2, {NOW_MS} + $3)
           ON CONFLICT ("name") DO UPDATE SET
               "generation" = CASE WHEN c."holder" IS NOT DISTINCT FROM excluded."holder"
                                   THEN c."generation" ELSE c."generation" + 1 END,
               "holder" = excluded."holder",
               "lease_until" = excluded."lease_until"
           WHERE c."holder" IS NULL OR c."holder" = excluded."holder"
              OR c."lease_until" IS NULL OR c."lease_until" <= {NOW_MS}
           RETURNING "position", "generation", "lease_until""#
    );
    let statement = client.prepare_cached(&sql).await.map_err(from_postgres)?;
    let row = client
        .query_opt(&statement, &[&name, &holder, &ttl_ms(ttl)])
        .await
        .map_err(from_postgres)?;
    row.map(|row| {
        Ok(Lease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            position: row.try_get(0).map_err(from_postgres)?,
            generation: row.try_get(1).map_err(from_postgres)?,
            until_ms: row.try_get(2).map_err(from_postgres)?,
            ttl,
        })
    })
    .transpose()
}

pub(crate) async fn advance(
    store: &PgStore,
    lease: &Lease,
    position: i64,
) -> Result<Option<i64>, StoreError> {
    let client = store.client().await?;
    let sql = format!(
        r#"UPDATE "_fathom_cursors" SET "position" = $1, "lease_until" = {NOW_MS} + $2
           WHERE "name" = $3 AND "holder" = $4 AND "generation" = $5
           RETURNING "lease_until""#
    );
    let statement = client.prepare_cached(&sql).await.map_err(from_postgres)?;
    let row = client
        .query_opt(
            &statement,
            &[
                &position,
                &ttl_ms(lease.ttl),
                &lease.name,
                &lease.holder,
                &lease.generation,
            ],
        )
        .await
        .map_err(from_postgres)?;
    row.map(|r| r.try_get(0).map_err(from_postgres)).transpose()
}

pub(crate) async fn release(store: &PgStore, lease: &Lease) -> Result<(), StoreError> {
    let client = store.client().await?;
    let statement = client
        .prepare_cached(
            r#"UPDATE "_fathom_cursors" SET "holder" = NULL, "lease_until" = NULL
               WHERE "name" = $1 AND "holder" = $2 AND "generation" = $3"#,
        )
        .await
        .map_err(from_postgres)?;
    client
        .execute(&statement, &[&lease.name, &lease.holder, &lease.generation])
        .await
        .map_err(from_postgres)?;
    Ok(())
}

pub(crate) async fn set(store: &PgStore, name: &str, position: i64) -> Result<(), StoreError> {
    let client = store.client().await?;
    let statement = client
        .prepare_cached(
            r#"INSERT INTO "_fathom_cursors" AS c ("name", "position") VALUES ($1, $2)
               ON CONFLICT ("name") DO UPDATE SET "position" = excluded."position",
                   "generation" = c."generation" + 1"#,
        )
        .await
        .map_err(from_postgres)?;
    client
        .execute(&statement, &[&name, &position])
        .await
        .map_err(from_postgres)?;
    Ok(())
}

pub(crate) async fn remove(store: &PgStore, name: &str) -> Result<bool, StoreError> {
    let client = store.client().await?;
    let statement = client
        .prepare_cached(r#"DELETE FROM "_fathom_cursors" WHERE "name" = $1"#)
        .await
        .map_err(from_postgres)?;
    let n = client
        .execute(&statement, &[&name])
        .await
        .map_err(from_postgres)?;
    Ok(n > 0)
}

pub(crate) async fn list(store: &PgStore) -> Result<Vec<CursorState>, StoreError> {
    let client = store.client().await?;
    let statement = client
        .prepare_cached(
            r#"SELECT "name", "position", "generation", "holder", "lease_until"
               FROM "_fathom_cursors" ORDER BY "name""#,
        )
        .await
        .map_err(from_postgres)?;
    let rows = client.query(&statement, &[]).await.map_err(from_postgres)?;
    rows.iter()
        .map(|r| {
            Ok(CursorState {
                name: r.try_get(0).map_err(from_postgres)?,
                position: r.try_get(1).map_err(from_postgres)?,
                generation: r.try_get(2).map_err(from_postgres)?,
                holder: r.try_get(3).map_err(from_postgres)?,
                lease_until_ms: r.try_get(4).map_err(from_postgres)?,
            })
        })
        .collect()
}
