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
use crate::identity::{NewUser, StoredSigningKey, User, UserChanges};

// Sessions and refresh tokens live in their own file; `sql::` reaches them through here.
pub(crate) use super::sessions::{
    create_session, live_session_authority, revoke_session, revoke_sessions, rotate_refresh,
    sessions,
};

// The OAuth functions (`oauth.rs`) are reached through `sql::` too.
pub(crate) use super::oauth::*;

pub(crate) const USER_COLUMNS: &str = "\"id\", \"email\", \"password_hash\", \"roles\", \"tenant\", \"verified\", \"disabled\", \"failed_logins\", \"locked_until\", \"created_at\", \"updated_at\", \"version\", \"profile\"";

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

pub(crate) fn read_user(row: &Row) -> Result<User, StoreError> {
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

pub(crate) async fn user_by_id<C: GenericClient>(conn: &C, id: Uuid) -> Result<User, StoreError> {
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
