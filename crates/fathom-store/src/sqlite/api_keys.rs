//! API keys on SQLite: stored by visible prefix with the hash of the whole key, and read with
//! their creator's account as it is now.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::identity::uuid_at;
use crate::error::{StoreError, from_sqlite};
use crate::identity::{ApiKey, KeyCreator};

const COLUMNS: &str = "\"id\", \"prefix\", \"hash\", \"name\", \"scopes\", \"tenant\", \"created_at\", \"revoked_at\", \"created_by\"";

/// The key's columns (as `k`) followed by its creator's roles and disabled flag (null without
/// a creator account).
const WITH_CREATOR: &str = "SELECT k.\"id\", k.\"prefix\", k.\"hash\", k.\"name\", k.\"scopes\", k.\"tenant\", k.\"created_at\", k.\"revoked_at\", k.\"created_by\", u.\"roles\", u.\"disabled\"
     FROM \"_fathom_api_keys\" k LEFT JOIN \"_fathom_users\" u ON u.\"id\" = k.\"created_by\"";

/// Adds the `created_by` column to a database made before keys recorded their creator, and
/// fills it from the audit log (the administrator who created each key), so that keys made
/// then are tied to their creators too. Runs once: later starts find the column.
pub(crate) fn add_creator_column(conn: &Connection) -> Result<(), StoreError> {
    let present: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('_fathom_api_keys') WHERE \"name\" = 'created_by')",
            [],
            |r| r.get(0),
        )
        .map_err(from_sqlite)?;
    if present {
        return Ok(());
    }
    conn.execute_batch(
        "ALTER TABLE \"_fathom_api_keys\" ADD COLUMN \"created_by\" TEXT;
         UPDATE \"_fathom_api_keys\" SET \"created_by\" = (
             SELECT a.\"actor\" FROM \"_fathom_audit\" a
             WHERE a.\"action\" = 'api_key_created' AND a.\"target\" = \"_fathom_api_keys\".\"id\" AND a.\"actor\" IS NOT NULL
             ORDER BY a.\"seq\" LIMIT 1)",
    )
    .map_err(from_sqlite)
}

/// A key from [`COLUMNS`]; the creator is left out (see [`read_with_creator`]).
fn read(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let scopes: String = row.get(4)?;
    let created_by: Option<String> = row.get(8)?;
    Ok(ApiKey {
        id: uuid_at(row, 0)?,
        prefix: row.get(1)?,
        hash: row.get(2)?,
        name: row.get(3)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        tenant: row.get(5)?,
        created_at: row.get(6)?,
        revoked_at: row.get(7)?,
        // An unreadable creator id matches no account, so the key counts as suspended.
        created_by: created_by.map(|id| Uuid::parse_str(&id).unwrap_or(Uuid::max())),
        creator: None,
    })
}

/// A key from [`WITH_CREATOR`].
fn read_with_creator(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let mut key = read(row)?;
    let roles: Option<String> = row.get(9)?;
    let disabled: Option<i64> = row.get(10)?;
    if let (Some(roles), Some(disabled)) = (roles, disabled) {
        key.creator = Some(KeyCreator {
            roles: serde_json::from_str(&roles).unwrap_or_default(),
            disabled: disabled != 0,
        });
    }
    Ok(key)
}

pub(crate) fn create(conn: &Connection, key: &ApiKey) -> Result<(), StoreError> {
    let scopes = serde_json::to_string(&key.scopes)
        .map_err(|e| StoreError::internal(format!("encoding scopes: {e}")))?;
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_api_keys\" ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            key.id.hyphenated().to_string(),
            key.prefix,
            key.hash,
            key.name,
            scopes,
            key.tenant,
            key.created_at,
            key.created_by.map(|id| id.hyphenated().to_string())
        ])
    })
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn by_prefix(conn: &Connection, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
    conn.prepare_cached(&format!("{WITH_CREATOR} WHERE k.\"prefix\" = ?1"))
        .and_then(|mut s| s.query_row([prefix], read_with_creator).optional())
        .map_err(from_sqlite)
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<ApiKey>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "{WITH_CREATOR} ORDER BY k.\"created_at\", k.\"id\""
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map([], read_with_creator)
        .map_err(from_sqlite)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;

    /// A database from before keys recorded their creator gets the column, filled from the
    /// audit log for keys an administrator made; a key made with the CLI stays without one.
    #[test]
    fn an_older_database_gets_the_creator_column_filled_from_the_audit_log() {
        let conn = Connection::open_in_memory().unwrap();
        crate::sqlite::migrate::ensure_system_tables(&conn).unwrap();
        conn.execute_batch("ALTER TABLE \"_fathom_api_keys\" DROP COLUMN \"created_by\"")
            .unwrap();
        let admin = Uuid::now_v7().hyphenated().to_string();
        let (by_admin, by_cli) = (Uuid::now_v7(), Uuid::now_v7());
        for (id, prefix) in [(by_admin, "aaaaaaaa"), (by_cli, "bbbbbbbb")] {
            conn.execute(
                "INSERT INTO \"_fathom_api_keys\" (\"id\", \"prefix\", \"hash\", \"name\", \"scopes\", \"created_at\")
                 VALUES (?1, ?2, 'hash', 'old key', '[\"*:*\"]', '2026-01-01T00:00:00.000Z')",
                params![id.hyphenated().to_string(), prefix],
            )
            .unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO \"_fathom_audit\" (\"at\", \"action\", \"outcome\", \"actor\", \"target\") VALUES
             ('2026-01-01T00:00:00.000Z', 'api_key_created', 'success', '{admin}', '{by_admin}'),
             ('2026-01-01T00:00:00.000Z', 'api_key_created', 'success', NULL, '{by_cli}')"
        ))
        .unwrap();

        add_creator_column(&conn).unwrap();
        add_creator_column(&conn).unwrap(); // Idempotent: a later start finds the column.
        let keys = all(&conn).unwrap();
        let creator_of = |id: Uuid| keys.iter().find(|k| k.id == id).unwrap().created_by;
        assert_eq!(
            creator_of(by_admin).map(|u| u.hyphenated().to_string()),
            Some(admin)
        );
        assert_eq!(creator_of(by_cli), None);
    }
}
