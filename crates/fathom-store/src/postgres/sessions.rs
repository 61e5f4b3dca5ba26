//! Sessions (each the family of the refresh tokens of one login) and refresh tokens on
//! PostgreSQL, re-exported by `identity.rs` under their SQLite counterparts' names. A refresh
//! token is redeemed under a row lock, so concurrent presentations of one token take turns: the
//! first rotates it, every later one finds it used and revokes the family.

use deadpool_postgres::GenericClient;
use fathom_schema::value::now_timestamp;
use tokio_postgres::Row;
use uuid::Uuid;

use super::identity::{execute, now, rows, timestamp, user_by_id};
use super::values::{get, get_timestamp, parse_timestamp};
use crate::error::StoreError;
use crate::identity::{Authority, RefreshOutcome, Session};

const SESSION_COLUMNS: &str = "\"id\", \"user_id\", \"created_at\", \"expires_at\", \"last_used_at\", \"revoked_at\", \"user_agent\", \"ip\"";

fn read_session(row: &Row) -> Result<Session, StoreError> {
    Ok(Session {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        created_at: timestamp(row, 2)?,
        expires_at: timestamp(row, 3)?,
        last_used_at: timestamp(row, 4)?,
        revoked_at: get_timestamp(row, 5)?,
        user_agent: get(row, 6)?,
        ip: get(row, 7)?,
    })
}

pub(crate) async fn create_session<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    refresh_hash: &str,
    expires_at: &str,
    user_agent: Option<&str>,
    ip: Option<&str>,
) -> Result<Session, StoreError> {
    let id = Uuid::now_v7();
    let now = now()?;
    let expires_at = parse_timestamp(expires_at)?;
    let sql = format!(
        "INSERT INTO \"_fathom_sessions\" ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $3, NULL, $5, $6) RETURNING {SESSION_COLUMNS}"
    );
    let session = rows(
        conn,
        &sql,
        &[&id, &user_id, &now, &expires_at, &user_agent, &ip],
    )
    .await?
    .first()
    .map(read_session)
    .transpose()?
    .ok_or_else(|| StoreError::internal("the new session vanished"))?;
    execute(
        conn,
        "INSERT INTO \"_fathom_refresh_tokens\" (\"hash\", \"session_id\", \"created_at\") VALUES ($1, $2, $3)",
        &[&refresh_hash, &id, &now],
    )
    .await?;
    Ok(session)
}

async fn session<C: GenericClient>(conn: &C, id: Uuid) -> Result<Option<Session>, StoreError> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM \"_fathom_sessions\" WHERE \"id\" = $1");
    rows(conn, &sql, &[&id])
        .await?
        .first()
        .map(read_session)
        .transpose()
}

pub(crate) async fn rotate_refresh<C: GenericClient>(
    conn: &C,
    hash: &str,
    next_hash: &str,
) -> Result<RefreshOutcome, StoreError> {
    // The row lock makes concurrent presentations of one token take turns: the first rotates
    // it, every later one finds it used.
    let found = rows(
        conn,
        "SELECT \"session_id\", \"used_at\" FROM \"_fathom_refresh_tokens\" WHERE \"hash\" = $1 FOR UPDATE",
        &[&hash],
    )
    .await?;
    let Some(row) = found.first() else {
        return Ok(RefreshOutcome::Invalid);
    };
    let session_id: Uuid = get(row, 0)?;
    let used_at = get_timestamp(row, 1)?;
    let Some(session) = session(conn, session_id).await? else {
        return Ok(RefreshOutcome::Invalid);
    };
    if used_at.is_some() {
        // A rotated token came back: someone holds a copy. End the whole family.
        revoke_session(conn, session.user_id, session.id, "refresh_token_reuse").await?;
        return Ok(RefreshOutcome::Reused {
            session_id: session.id,
            user_id: session.user_id,
        });
    }
    let now_text = now_timestamp();
    let now = parse_timestamp(&now_text)?;
    let user = user_by_id(conn, session.user_id).await?;
    if session.revoked_at.is_some() || session.expires_at <= now_text || user.disabled {
        return Ok(RefreshOutcome::Invalid);
    }
    let changed = execute(
        conn,
        "UPDATE \"_fathom_refresh_tokens\" SET \"used_at\" = $2 WHERE \"hash\" = $1 AND \"used_at\" IS NULL",
        &[&hash, &now],
    )
    .await?;
    if changed != 1 {
        return Ok(RefreshOutcome::Invalid);
    }
    execute(
        conn,
        "INSERT INTO \"_fathom_refresh_tokens\" (\"hash\", \"session_id\", \"created_at\") VALUES ($1, $2, $3)",
        &[&next_hash, &session.id, &now],
    )
    .await?;
    execute(
        conn,
        "UPDATE \"_fathom_sessions\" SET \"last_used_at\" = $2 WHERE \"id\" = $1",
        &[&session.id, &now],
    )
    .await?;
    let session = Session {
        last_used_at: now_text,
        ..session
    };
    Ok(RefreshOutcome::Rotated {
        session: Box::new(session),
        user: Box::new(user),
    })
}

pub(crate) async fn revoke_session<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    session_id: Uuid,
    reason: &str,
) -> Result<bool, StoreError> {
    let changed = execute(
        conn,
        "UPDATE \"_fathom_sessions\" SET \"revoked_at\" = $3, \"revoked_reason\" = $4
         WHERE \"id\" = $1 AND \"user_id\" = $2 AND \"revoked_at\" IS NULL",
        &[&session_id, &user_id, &now()?, &reason],
    )
    .await?;
    Ok(changed == 1)
}

pub(crate) async fn revoke_sessions<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<usize, StoreError> {
    let changed = execute(
        conn,
        "UPDATE \"_fathom_sessions\" SET \"revoked_at\" = $3, \"revoked_reason\" = $4
         WHERE \"user_id\" = $1 AND \"revoked_at\" IS NULL AND \"id\" IS DISTINCT FROM $2",
        &[&user_id, &keep, &now()?, &reason],
    )
    .await?;
    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
}

pub(crate) async fn sessions<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
) -> Result<Vec<Session>, StoreError> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM \"_fathom_sessions\"
         WHERE \"user_id\" = $1 AND \"revoked_at\" IS NULL AND \"expires_at\" > $2 ORDER BY \"id\" DESC"
    );
    rows(conn, &sql, &[&user_id, &now()?])
        .await?
        .iter()
        .map(read_session)
        .collect()
}

pub(crate) async fn live_session_authority<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<Authority>, StoreError> {
    let found = rows(
        conn,
        "SELECT u.\"roles\", u.\"tenant\", u.\"verified\" FROM \"_fathom_sessions\" s JOIN \"_fathom_users\" u ON u.\"id\" = s.\"user_id\"
         WHERE s.\"id\" = $1 AND s.\"user_id\" = $2 AND s.\"revoked_at\" IS NULL AND s.\"expires_at\" > $3 AND NOT u.\"disabled\"",
        &[&session_id, &user_id, &now()?],
    )
    .await?;
    found
        .first()
        .map(|r| {
            let roles: serde_json::Value = get(r, 0)?;
            Ok(Authority {
                // Unreadable roles grant nothing rather than failing every request.
                roles: serde_json::from_value(roles).unwrap_or_default(),
                tenant: get(r, 1)?,
                verified: get(r, 2)?,
            })
        })
        .transpose()
}
