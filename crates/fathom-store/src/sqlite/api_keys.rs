//! API keys on SQLite: stored by visible prefix with the hash of the whole key.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::identity::uuid_at;
use crate::error::{StoreError, from_sqlite};
use crate::identity::ApiKey;

const COLUMNS: &str = "\"id\", \"prefix\", \"hash\", \"name\", \"scopes\", \"tenant\", \"created_at\", \"revoked_at\"";

fn read(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = row.get(4)?;
    Ok(ApiKey {
        id: uuid_at(row, 0)?,
        prefix: row.get(1)?,
        hash: row.get(2)?,
        name: row.get(3)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        tenant: row.get(5)?,
        created_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

pub(crate) fn create(conn: &Connection, key: &ApiKey) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&key.scopes)
        .map_err(|e| StoreError::internal(format!("encoding scopes: {e}")))?;
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_api_keys\" ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            key.id.hyphenated().to_string(),
            key.prefix,
            key.hash,
            key.name,
            scopes,
            key.tenant,
            key.created_at
        ])
    })
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn by_prefix(conn: &Connection, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM \"_fathom_api_keys\" WHERE \"prefix\" = ?1"
    ))
    .and_then(|mut s| s.query_row([prefix], read).optional())
    .map_err(from_sqlite)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<ApiKey>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM \"_fathom_api_keys\" ORDER BY \"created_at\", \"id\""
        ))
        .map_err(from_sqlite)?;
    let rows = statement.query_map([], read).map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn revoke(conn: &Connection, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
    conn.prepare_cached(&format!(
        "UPDATE \"_fathom_api_keys\" SET \"revoked_at\" = ?1 WHERE \"id\" = ?2 AND \"revoked_at\" IS NULL RETURNING {COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(params![now_timestamp(), id.hyphenated().to_string()], read)
            .optional()
    })
    .map_err(from_sqlite)
}
