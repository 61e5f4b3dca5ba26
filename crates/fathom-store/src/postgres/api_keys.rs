//! API keys on PostgreSQL: stored by visible prefix with the hash of the whole key.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::identity::{now, rows, timestamp};
use super::values::{get, get_timestamp, parse_timestamp};
use crate::error::StoreError;
use crate::identity::ApiKey;

const COLUMNS: &str = "\"id\", \"prefix\", \"hash\", \"name\", \"scopes\", \"tenant\", \"created_at\", \"revoked_at\"";

fn read(row: &Row) -> Result<ApiKey, StoreError> {
    let scopes: serde_json::Value = get(row, 4)?;
    Ok(ApiKey {
        id: get(row, 0)?,
        prefix: get(row, 1)?,
        hash: get(row, 2)?,
        name: get(row, 3)?,
        scopes: serde_json::from_value(scopes).unwrap_or_default(),
        tenant: get(row, 5)?,
        created_at: timestamp(row, 6)?,
        revoked_at: get_timestamp(row, 7)?,
    })
}

pub(crate) async fn create<C: GenericClient>(conn: &C, key: &ApiKey) -> Result<(), StoreError> {
    let scopes = serde_json::to_value(&key.scopes)
        .map_err(|e| StoreError::internal(format!("encoding scopes: {e}")))?;
    let sql = format!(
        "INSERT INTO \"_fathom_api_keys\" ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)"
    );
    super::identity::execute(
        conn,
        &sql,
        &[
            &key.id,
            &key.prefix,
            &key.hash,
            &key.name,
            &scopes,
            &key.tenant,
            &parse_timestamp(&key.created_at)?,
        ],
    )
    .await
    .map(drop)
}

pub(crate) async fn by_prefix<C: GenericClient>(
    conn: &C,
    prefix: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM \"_fathom_api_keys\" WHERE \"prefix\" = $1");
    rows(conn, &sql, &[&prefix])
        .await?
        .first()
        .map(read)
        .transpose()
}

pub(crate) async fn all<C: GenericClient>(conn: &C) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM \"_fathom_api_keys\" ORDER BY \"created_at\", \"id\"");
    rows(conn, &sql, &[]).await?.iter().map(read).collect()
}

pub(crate) async fn revoke<C: GenericClient>(
    conn: &C,
    id: Uuid,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!(
        "UPDATE \"_fathom_api_keys\" SET \"revoked_at\" = $1 WHERE \"id\" = $2 AND \"revoked_at\" IS NULL RETURNING {COLUMNS}"
    );
    rows(conn, &sql, &[&now()?, &id])
        .await?
        .first()
        .map(read)
        .transpose()
}
