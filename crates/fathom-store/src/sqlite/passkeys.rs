//! Passkey SQL on SQLite (see `crate::passkeys`). Every write runs on the single writer, so a
//! take, a guarded counter update or a count-then-delete is atomic.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::identity::uuid_at;
use crate::cursors::now_ms;
use crate::error::{StoreError, from_sqlite};
use crate::passkeys::{Ceremony, CeremonyKind, NewPasskey, PasskeyRemoval, StoredPasskey};

const COLUMNS: &str = "\"id\", \"user_id\", \"credential_id\", \"name\", \"credential\", \"sign_count\", \"created_at\", \"last_used_at\"";

fn read(row: &Row<'_>) -> rusqlite::Result<StoredPasskey> {
    Ok(StoredPasskey {
        id: uuid_at(row, 0)?,
        user_id: uuid_at(row, 1)?,
        credential_id: row.get(2)?,
        name: row.get(3)?,
        credential: row.get(4)?,
        sign_count: row.get(5)?,
        created_at: row.get(6)?,
        last_used_at: row.get(7)?,
    })
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

pub(crate) fn create_ceremony(
    conn: &Connection,
    kind: CeremonyKind,
    user_id: Option<Uuid>,
    state: &str,
    ttl_ms: i64,
) -> Result<Uuid, StoreError> {
    let now = now_ms();
    conn.prepare_cached("DELETE FROM \"_fathom_passkey_ceremonies\" WHERE \"expires_at_ms\" <= ?1")
        .and_then(|mut s| s.execute(params![now]))
        .map_err(from_sqlite)?;
    let id = Uuid::new_v4();
    conn.prepare_cached(
        "INSERT INTO \"_fathom_passkey_ceremonies\" (\"id\", \"kind\", \"user_id\", \"state\", \"expires_at_ms\") VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id_text(id),
            kind.as_str(),
            user_id.map(id_text),
            state,
            now.saturating_add(ttl_ms)
        ])
    })
    .map_err(from_sqlite)?;
    Ok(id)
}

pub(crate) fn take_ceremony(
    conn: &Connection,
    id: Uuid,
    kind: CeremonyKind,
) -> Result<Option<Ceremony>, StoreError> {
    let raw = conn
        .prepare_cached(
            "DELETE FROM \"_fathom_passkey_ceremonies\" WHERE \"id\" = ?1 AND \"kind\" = ?2 AND \"expires_at_ms\" > ?3
             RETURNING \"user_id\", \"state\"",
        )
        .and_then(|mut s| {
            s.query_row(params![id_text(id), kind.as_str(), now_ms()], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
            })
            .optional()
        })
        .map_err(from_sqlite)?;
    raw.map(|(user, state)| {
        let user_id = user
            .map(|u| Uuid::parse_str(&u))
            .transpose()
            .map_err(|e| StoreError::internal(format!("a ceremony's user id: {e}")))?;
        Ok(Ceremony { user_id, state })
    })
    .transpose()
}

pub(crate) fn add(conn: &Connection, passkey: &NewPasskey) -> Result<StoredPasskey, StoreError> {
    let id = Uuid::now_v7();
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_passkeys\" ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL) RETURNING {COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(
            params![
                id_text(id),
                id_text(passkey.user_id),
                passkey.credential_id,
                passkey.name,
                passkey.credential,
                passkey.sign_count,
                now_timestamp()
            ],
            read,
        )
    })
    .map_err(from_sqlite)
}

pub(crate) fn of_user(conn: &Connection, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM \"_fathom_passkeys\" WHERE \"user_id\" = ?1 ORDER BY \"id\""
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map(params![id_text(user_id)], read)
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn by_credential(
    conn: &Connection,
    credential_id: &str,
) -> Result<Option<StoredPasskey>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM \"_fathom_passkeys\" WHERE \"credential_id\" = ?1"
    ))
    .and_then(|mut s| s.query_row(params![credential_id], read).optional())
    .map_err(from_sqlite)
}

pub(crate) fn count(conn: &Connection, user_id: Uuid) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM \"_fathom_passkeys\" WHERE \"user_id\" = ?1")
        .and_then(|mut s| s.query_row(params![id_text(user_id)], |r| r.get(0)))
        .map_err(from_sqlite)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn record_use(
    conn: &Connection,
    id: Uuid,
    credential: &str,
    sign_count: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_passkeys\" SET \"credential\" = ?2, \"sign_count\" = ?3, \"last_used_at\" = ?4
             WHERE \"id\" = ?1 AND (\"sign_count\" < ?3 OR (\"sign_count\" = 0 AND ?3 = 0))",
        )
        .and_then(|mut s| s.execute(params![id_text(id), credential, sign_count, now_timestamp()]))
        .map_err(from_sqlite)?;
    Ok(changed == 1)
}

pub(crate) fn remove(
    conn: &Connection,
    user_id: Uuid,
    id: Uuid,
    keep_last: bool,
) -> Result<PasskeyRemoval, StoreError> {
    let owned: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM \"_fathom_passkeys\" WHERE \"id\" = ?1 AND \"user_id\" = ?2")
        .and_then(|mut s| {
            s.query_row(params![id_text(id), id_text(user_id)], |r| r.get(0))
                .optional()
        })
        .map_err(from_sqlite)?;
    if owned.is_none() {
        return Ok(PasskeyRemoval::NotFound);
    }
    // Linked OAuth identities are ways to sign in too.
    if keep_last
        && super::oauth::oauth_identity_count(conn, user_id)? == 0
        && count(conn, user_id)? <= 1
    {
        return Ok(PasskeyRemoval::LastSignInMethod);
    }
    conn.prepare_cached("DELETE FROM \"_fathom_passkeys\" WHERE \"id\" = ?1 AND \"user_id\" = ?2")
        .and_then(|mut s| s.execute(params![id_text(id), id_text(user_id)]))
        .map_err(from_sqlite)?;
    Ok(PasskeyRemoval::Removed)
}
