//! Passkey SQL on PostgreSQL, one function per SQLite counterpart (same names, same arguments).
//! Ceremonies expire by the database's clock, so every node agrees on when; a take is one
//! `DELETE ... RETURNING`, so exactly one concurrent finisher gets a ceremony.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::identity::{execute, now, rows, timestamp};
use super::values::{get, get_timestamp};
use crate::error::StoreError;
use crate::passkeys::{Ceremony, CeremonyKind, NewPasskey, PasskeyRemoval, StoredPasskey};

const COLUMNS: &str = "\"id\", \"user_id\", \"credential_id\", \"name\", \"credential\", \"sign_count\", \"created_at\", \"last_used_at\"";

fn read(row: &Row) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        credential_id: get(row, 2)?,
        name: get(row, 3)?,
        credential: get(row, 4)?,
        sign_count: get(row, 5)?,
        created_at: timestamp(row, 6)?,
        last_used_at: get_timestamp(row, 7)?,
    })
}

pub(crate) async fn create_ceremony<C: GenericClient>(
    conn: &C,
    kind: CeremonyKind,
    user_id: Option<Uuid>,
    state: &str,
    ttl_ms: i64,
) -> Result<Uuid, StoreError> {
    execute(
        conn,
        "DELETE FROM \"_fathom_passkey_ceremonies\" WHERE \"expires_at\" <= now()",
        &[],
    )
    .await?;
    let id = Uuid::new_v4();
    let ttl = ttl_ms as f64 / 1000.0;
    execute(
        conn,
        "INSERT INTO \"_fathom_passkey_ceremonies\" (\"id\", \"kind\", \"user_id\", \"state\", \"expires_at\")
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        &[&id, &kind.as_str(), &user_id, &state, &ttl],
    )
    .await?;
    Ok(id)
}

pub(crate) async fn take_ceremony<C: GenericClient>(
    conn: &C,
    id: Uuid,
    kind: CeremonyKind,
) -> Result<Option<Ceremony>, StoreError> {
    rows(
        conn,
        "DELETE FROM \"_fathom_passkey_ceremonies\" WHERE \"id\" = $1 AND \"kind\" = $2 AND \"expires_at\" > now()
         RETURNING \"user_id\", \"state\"",
        &[&id, &kind.as_str()],
    )
    .await?
    .first()
    .map(|r| {
        Ok(Ceremony {
            user_id: get(r, 0)?,
            state: get(r, 1)?,
        })
    })
    .transpose()
}

pub(crate) async fn add<C: GenericClient>(
    conn: &C,
    passkey: &NewPasskey,
) -> Result<StoredPasskey, StoreError> {
    let id = Uuid::now_v7();
    let found = rows(
        conn,
        &format!(
            "INSERT INTO \"_fathom_passkeys\" ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) RETURNING {COLUMNS}"
        ),
        &[
            &id,
            &passkey.user_id,
            &passkey.credential_id,
            &passkey.name,
            &passkey.credential,
            &passkey.sign_count,
            &now()?,
        ],
    )
    .await?;
    found
        .first()
        .map(read)
        .transpose()?
        .ok_or_else(|| StoreError::internal("an insert returned no passkey"))
}

pub(crate) async fn of_user<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
) -> Result<Vec<StoredPasskey>, StoreError> {
    rows(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM \"_fathom_passkeys\" WHERE \"user_id\" = $1 ORDER BY \"id\""
        ),
        &[&user_id],
    )
    .await?
    .iter()
    .map(read)
    .collect()
}

pub(crate) async fn by_credential<C: GenericClient>(
    conn: &C,
    credential_id: &str,
) -> Result<Option<StoredPasskey>, StoreError> {
    rows(
        conn,
        &format!("SELECT {COLUMNS} FROM \"_fathom_passkeys\" WHERE \"credential_id\" = $1"),
        &[&credential_id],
    )
    .await?
    .first()
    .map(read)
    .transpose()
}

pub(crate) async fn count<C: GenericClient>(conn: &C, user_id: Uuid) -> Result<u64, StoreError> {
    let n: i64 = rows(
        conn,
        "SELECT count(*) FROM \"_fathom_passkeys\" WHERE \"user_id\" = $1",
        &[&user_id],
    )
    .await?
    .first()
    .map(|r| get(r, 0))
    .transpose()?
    .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn record_use<C: GenericClient>(
    conn: &C,
    id: Uuid,
    credential: &str,
    sign_count: i64,
) -> Result<bool, StoreError> {
    // The guard reads the row under its update lock, so of two nodes presenting one counter
    // value the second finds it already stored and changes nothing.
    let changed = execute(
        conn,
        "UPDATE \"_fathom_passkeys\" SET \"credential\" = $2, \"sign_count\" = $3, \"last_used_at\" = $4
         WHERE \"id\" = $1 AND (\"sign_count\" < $3 OR (\"sign_count\" = 0 AND $3 = 0))",
        &[&id, &credential, &sign_count, &now()?],
    )
    .await?;
    Ok(changed == 1)
}

pub(crate) async fn remove<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    id: Uuid,
    keep_last: bool,
) -> Result<PasskeyRemoval, StoreError> {
    // Locking the account's row serialises the removals of its passkeys, so the count below
    // cannot be read by two of them at once.
    execute(
        conn,
        "SELECT 1 FROM \"_fathom_users\" WHERE \"id\" = $1 FOR UPDATE",
        &[&user_id],
    )
    .await?;
    let owned = rows(
        conn,
        "SELECT 1 FROM \"_fathom_passkeys\" WHERE \"id\" = $1 AND \"user_id\" = $2",
        &[&id, &user_id],
    )
    .await?;
    if owned.is_empty() {
        return Ok(PasskeyRemoval::NotFound);
    }
    // Linked OAuth identities are ways to sign in too.
    if keep_last
        && super::oauth::oauth_identity_count(conn, user_id).await? == 0
        && count(conn, user_id).await? <= 1
    {
        return Ok(PasskeyRemoval::LastSignInMethod);
    }
    execute(
        conn,
        "DELETE FROM \"_fathom_passkeys\" WHERE \"id\" = $1 AND \"user_id\" = $2",
        &[&id, &user_id],
    )
    .await?;
    Ok(PasskeyRemoval::Removed)
}
