//! Identity SQL on PostgreSQL, one function per SQLite counterpart (same names, same
//! arguments), so that `Store`'s identity methods dispatch to either. Writers run inside one
//! transaction each; a read-then-update locks the row it read (`FOR UPDATE`), which gives the
//! same answers as SQLite's single writer: concurrent redemptions of one secret yield one success.

use deadpool_postgres::GenericClient;
use fathom_schema::value::now_timestamp;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::values::{get, get_timestamp, parse_timestamp};
use crate::error::{StoreError, from_postgres};
use crate::identity::{
    AuditEntry, AuditRecord, NewUser, RefreshOutcome, Session, StoredSigningKey, User, UserChanges,
};

const USER_COLUMNS: &str = "\"id\", \"email\", \"password_hash\", \"roles\", \"tenant\", \"verified\", \"disabled\", \"failed_logins\", \"locked_until\", \"created_at\", \"updated_at\", \"version\", \"profile\"";
const SESSION_COLUMNS: &str = "\"id\", \"user_id\", \"created_at\", \"expires_at\", \"last_used_at\", \"revoked_at\", \"user_agent\", \"ip\"";

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs a cached statement and returns its rows.
pub(crate) async fn rows<C: GenericClient>(
    conn: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let statement = conn.prepare_cached(sql).await.map_err(from_postgres)?;
    conn.query(&statement, params).await.map_err(from_postgres)
}

/// Runs a cached statement and returns how many rows it changed.
pub(crate) async fn execute<C: GenericClient>(
    conn: &C,
    sql: &str,
    params: &Params<'_>,
) -> Result<u64, StoreError> {
    let statement = conn.prepare_cached(sql).await.map_err(from_postgres)?;
    conn.execute(&statement, params)
        .await
        .map_err(from_postgres)
}

/// The required canonical timestamp in column `index`.
pub(crate) fn timestamp(row: &Row, index: usize) -> Result<String, StoreError> {
    get_timestamp(row, index)?
        .ok_or_else(|| StoreError::internal(format!("column {index} is unexpectedly null")))
}

pub(crate) fn now() -> Result<OffsetDateTime, StoreError> {
    parse_timestamp(&now_timestamp())
}

fn read_user(row: &Row) -> Result<User, StoreError> {
    let roles: serde_json::Value = get(row, 3)?;
    Ok(User {
        id: get(row, 0)?,
        email: get(row, 1)?,
        password_hash: get(row, 2)?,
        roles: serde_json::from_value(roles).unwrap_or_default(),
        tenant: get(row, 4)?,
        verified: get(row, 5)?,
        disabled: get(row, 6)?,
        failed_logins: get(row, 7)?,
        locked_until: get_timestamp(row, 8)?,
        created_at: timestamp(row, 9)?,
        updated_at: timestamp(row, 10)?,
        version: get(row, 11)?,
        profile: serde_json::from_str(&get::<String>(row, 12)?).unwrap_or_default(),
    })
}

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

pub(crate) async fn create_user<C: GenericClient>(
    conn: &C,
    user: &NewUser,
) -> Result<User, StoreError> {
    let id = Uuid::now_v7();
    let now = now()?;
    let roles = serde_json::to_value(&user.roles)
        .map_err(|e| StoreError::internal(format!("encoding roles: {e}")))?;
    let sql = format!(
        "INSERT INTO \"_fathom_users\" ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, false, 0, NULL, $7, $7, 1, '{{}}') RETURNING {USER_COLUMNS}"
    );
    let email = user.email.to_lowercase();
    let found = rows(
        conn,
        &sql,
        &[
            &id,
            &email,
            &user.password_hash,
            &roles,
            &user.tenant,
            &user.verified,
            &now,
        ],
    )
    .await?;
    found
        .first()
        .map(read_user)
        .transpose()?
        .ok_or_else(|| StoreError::internal("the new user vanished"))
}

/// One user by `id` or `email` (the column name is one of those two constants).
pub(crate) async fn user_where<C: GenericClient>(
    conn: &C,
    column: &'static str,
    value: &str,
) -> Result<Option<User>, StoreError> {
    let found = if column == "id" {
        let Ok(id) = Uuid::parse_str(value) else {
            return Ok(None);
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE \"id\" = $1");
        rows(conn, &sql, &[&id]).await?
    } else {
        let sql = format!("SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE \"{column}\" = $1");
        rows(conn, &sql, &[&value]).await?
    };
    found.first().map(read_user).transpose()
}

async fn user_by_id<C: GenericClient>(conn: &C, id: Uuid) -> Result<User, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE \"id\" = $1 FOR UPDATE");
    rows(conn, &sql, &[&id])
        .await?
        .first()
        .map(read_user)
        .transpose()?
        .ok_or_else(StoreError::not_found)
}

pub(crate) async fn record_login_failure<C: GenericClient>(
    conn: &C,
    id: Uuid,
    threshold: i64,
    lock_until: &str,
) -> Result<User, StoreError> {
    // While locked, failures change nothing (an attacker cannot stretch the lock); once a lock
    // has expired, counting starts afresh (one more miss does not lock the owner out again).
    let sql = format!(
        "UPDATE \"_fathom_users\" SET
            \"failed_logins\" = CASE
                WHEN \"locked_until\" IS NOT NULL AND \"locked_until\" > $4 THEN \"failed_logins\"
                WHEN \"locked_until\" IS NOT NULL THEN 1
                ELSE \"failed_logins\" + 1 END,
            \"locked_until\" = CASE
                WHEN \"locked_until\" IS NOT NULL AND \"locked_until\" > $4 THEN \"locked_until\"
                WHEN (CASE WHEN \"locked_until\" IS NOT NULL THEN 1 ELSE \"failed_logins\" + 1 END) >= $2 THEN $3
                ELSE NULL END
         WHERE \"id\" = $1 RETURNING {USER_COLUMNS}"
    );
    let lock_until = parse_timestamp(lock_until)?;
    rows(conn, &sql, &[&id, &threshold, &lock_until, &now()?])
        .await?
        .first()
        .map(read_user)
        .transpose()?
        .ok_or_else(StoreError::not_found)
}

pub(crate) async fn record_login_success<C: GenericClient>(
    conn: &C,
    id: Uuid,
    rehashed: Option<&str>,
) -> Result<(), StoreError> {
    execute(
        conn,
        "UPDATE \"_fathom_users\" SET \"failed_logins\" = 0, \"locked_until\" = NULL,
            \"password_hash\" = COALESCE($2, \"password_hash\") WHERE \"id\" = $1",
        &[&id, &rehashed],
    )
    .await
    .map(drop)
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

pub(crate) async fn set_password<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    hash: &str,
    keep: Option<Uuid>,
) -> Result<usize, StoreError> {
    let changed = execute(
        conn,
        "UPDATE \"_fathom_users\" SET \"password_hash\" = $2, \"updated_at\" = $3, \"version\" = \"version\" + 1,
            \"failed_logins\" = 0, \"locked_until\" = NULL WHERE \"id\" = $1",
        &[&user_id, &hash, &now()?],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::not_found());
    }
    revoke_sessions(conn, user_id, keep, "password_changed").await
}

pub(crate) async fn create_one_time_token<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    purpose: &str,
    hash: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO \"_fathom_one_time_tokens\" (\"hash\", \"user_id\", \"purpose\", \"expires_at\") VALUES ($1, $2, $3, $4)",
        &[&hash, &user_id, &purpose, &parse_timestamp(expires_at)?],
    )
    .await
    .map(drop)
}

pub(crate) async fn redeem_one_time_token<C: GenericClient>(
    conn: &C,
    purpose: &str,
    hash: &str,
) -> Result<Option<Uuid>, StoreError> {
    rows(
        conn,
        "UPDATE \"_fathom_one_time_tokens\" SET \"used_at\" = $3
         WHERE \"hash\" = $1 AND \"purpose\" = $2 AND \"used_at\" IS NULL AND \"expires_at\" > $3
         RETURNING \"user_id\"",
        &[&hash, &purpose, &now()?],
    )
    .await?
    .first()
    .map(|r| get(r, 0))
    .transpose()
}

/// The user a live single-use token belongs to, without redeeming it.
pub(crate) async fn one_time_token_user<C: GenericClient>(
    conn: &C,
    purpose: &str,
    hash: &str,
) -> Result<Option<Uuid>, StoreError> {
    rows(
        conn,
        "SELECT \"user_id\" FROM \"_fathom_one_time_tokens\"
         WHERE \"hash\" = $1 AND \"purpose\" = $2 AND \"used_at\" IS NULL AND \"expires_at\" > $3",
        &[&hash, &purpose, &now()?],
    )
    .await?
    .first()
    .map(|r| get(r, 0))
    .transpose()
}

/// Merges `patch` into the stored profile (a null removes a field). The row lock makes two
/// concurrent patches of one profile both land.
pub(crate) async fn patch_profile<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    patch: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<User>, StoreError> {
    let user = match user_by_id(conn, user_id).await {
        Ok(user) => user,
        Err(e) if e.kind == crate::StoreErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut profile = user.profile;
    for (name, value) in patch {
        if value.is_null() {
            profile.remove(name);
        } else {
            profile.insert(name.clone(), value.clone());
        }
    }
    let profile = serde_json::Value::Object(profile).to_string();
    let sql = format!(
        "UPDATE \"_fathom_users\" SET \"profile\" = $2, \"updated_at\" = $3, \"version\" = \"version\" + 1 WHERE \"id\" = $1 RETURNING {USER_COLUMNS}"
    );
    rows(conn, &sql, &[&user_id, &profile, &now()?])
        .await?
        .first()
        .map(read_user)
        .transpose()
}

pub(crate) async fn set_verified<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
) -> Result<(), StoreError> {
    execute(
        conn,
        "UPDATE \"_fathom_users\" SET \"verified\" = true, \"updated_at\" = $2 WHERE \"id\" = $1",
        &[&user_id, &now()?],
    )
    .await
    .map(drop)
}

pub(crate) async fn signing_keys<C: GenericClient>(
    conn: &C,
) -> Result<Vec<StoredSigningKey>, StoreError> {
    rows(
        conn,
        "SELECT \"kid\", \"private_key\", \"public_key\", \"created_at\", \"retired_at\" FROM \"_fathom_signing_keys\" ORDER BY \"created_at\"",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(StoredSigningKey {
            kid: get(r, 0)?,
            private_key: get(r, 1)?,
            public_key: get(r, 2)?,
            created_at: get(r, 3)?,
            retired_at: get(r, 4)?,
        })
    })
    .collect()
}

pub(crate) async fn add_signing_key<C: GenericClient>(
    conn: &C,
    key: &StoredSigningKey,
) -> Result<(), StoreError> {
    execute(
        conn,
        "UPDATE \"_fathom_signing_keys\" SET \"retired_at\" = $1 WHERE \"retired_at\" IS NULL",
        &[&key.created_at],
    )
    .await?;
    execute(
        conn,
        "INSERT INTO \"_fathom_signing_keys\" (\"kid\", \"private_key\", \"public_key\", \"created_at\", \"retired_at\") VALUES ($1, $2, $3, $4, NULL)",
        &[&key.kid, &key.private_key, &key.public_key, &key.created_at],
    )
    .await
    .map(drop)
}

pub(crate) async fn append_audit<C: GenericClient>(
    conn: &C,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO \"_fathom_audit\" (\"at\", \"action\", \"outcome\", \"actor\", \"target\", \"request_id\", \"ip\", \"detail\")
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&now()?, &entry.action, &entry.outcome, &entry.actor, &entry.target, &entry.request_id, &entry.ip, &entry.detail],
    )
    .await
    .map(drop)
}

pub(crate) async fn audit_log<C: GenericClient>(
    conn: &C,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    rows(
        conn,
        "SELECT \"seq\", \"at\", \"action\", \"outcome\", \"actor\", \"target\", \"request_id\", \"ip\", \"detail\"
         FROM \"_fathom_audit\" ORDER BY \"seq\" DESC LIMIT $1",
        &[&i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(AuditRecord {
            seq: get(r, 0)?,
            at: timestamp(r, 1)?,
            entry: AuditEntry {
                action: get(r, 2)?,
                outcome: get(r, 3)?,
                actor: get(r, 4)?,
                target: get(r, 5)?,
                request_id: get(r, 6)?,
                ip: get(r, 7)?,
                detail: get(r, 8)?,
            },
        })
    })
    .collect()
}

pub(crate) async fn users<C: GenericClient>(
    conn: &C,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE $1::uuid IS NULL OR \"id\" > $1 ORDER BY \"id\" LIMIT $2"
    );
    rows(conn, &sql, &[&after, &i64::from(limit)])
        .await?
        .iter()
        .map(read_user)
        .collect()
}

pub(crate) async fn update_user<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    changes: &UserChanges,
) -> Result<User, StoreError> {
    let before = user_by_id(conn, user_id).await?;
    let roles = changes.roles.as_ref().unwrap_or(&before.roles);
    let roles = serde_json::to_value(roles)
        .map_err(|e| StoreError::internal(format!("encoding roles: {e}")))?;
    let tenant = changes.tenant.clone().unwrap_or(before.tenant.clone());
    execute(
        conn,
        "UPDATE \"_fathom_users\" SET \"roles\" = $2, \"disabled\" = $3, \"verified\" = $4, \"tenant\" = $5,
            \"updated_at\" = $6, \"version\" = \"version\" + 1 WHERE \"id\" = $1",
        &[
            &user_id,
            &roles,
            &changes.disabled.unwrap_or(before.disabled),
            &changes.verified.unwrap_or(before.verified),
            &tenant,
            &now()?,
        ],
    )
    .await?;
    if changes.disabled == Some(true) {
        revoke_sessions(conn, user_id, None, "account_disabled").await?;
    }
    user_by_id(conn, user_id).await
}

pub(crate) async fn session_is_live<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<bool, StoreError> {
    let found = rows(
        conn,
        "SELECT EXISTS (SELECT 1 FROM \"_fathom_sessions\" s JOIN \"_fathom_users\" u ON u.\"id\" = s.\"user_id\"
         WHERE s.\"id\" = $1 AND s.\"user_id\" = $2 AND s.\"revoked_at\" IS NULL AND s.\"expires_at\" > $3 AND NOT u.\"disabled\")",
        &[&session_id, &user_id, &now()?],
    )
    .await?;
    found
        .first()
        .map(|r| get(r, 0))
        .transpose()
        .map(|b| b.unwrap_or(false))
}
