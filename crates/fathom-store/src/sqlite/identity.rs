//! Identity SQL on SQLite. Each function runs inside one writer job (a savepoint of the group
//! commit) or on a reader, so a read-then-update here is atomic: writes are serialised.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use crate::error::{StoreError, from_sqlite};
use crate::identity::{
    Authority, NewUser, RefreshOutcome, Session, StoredSigningKey, User, UserChanges,
};

// The OAuth functions (`oauth.rs`) are reached through `sql::` too.
pub(crate) use super::oauth::*;

pub(crate) const USER_COLUMNS: &str = "\"id\", \"email\", \"password_hash\", \"roles\", \"tenant\", \"verified\", \"disabled\", \"failed_logins\", \"locked_until\", \"created_at\", \"updated_at\", \"version\", \"profile\"";
const SESSION_COLUMNS: &str = "\"id\", \"user_id\", \"created_at\", \"expires_at\", \"last_used_at\", \"revoked_at\", \"user_agent\", \"ip\"";

pub(crate) fn uuid_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(index)?;
    Uuid::parse_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn read_user(row: &Row<'_>) -> rusqlite::Result<User> {
    let roles: String = row.get(3)?;
    Ok(User {
        id: uuid_at(row, 0)?,
        email: row.get(1)?,
        password_hash: row.get(2)?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        tenant: row.get(4)?,
        verified: row.get::<_, i64>(5)? != 0,
        disabled: row.get::<_, i64>(6)? != 0,
        failed_logins: row.get(7)?,
        locked_until: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        version: row.get(11)?,
        profile: serde_json::from_str(&row.get::<_, String>(12)?).unwrap_or_default(),
    })
}

fn read_session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: uuid_at(row, 0)?,
        user_id: uuid_at(row, 1)?,
        created_at: row.get(2)?,
        expires_at: row.get(3)?,
        last_used_at: row.get(4)?,
        revoked_at: row.get(5)?,
        user_agent: row.get(6)?,
        ip: row.get(7)?,
    })
}

fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

pub(crate) fn create_user(conn: &Connection, user: &NewUser) -> Result<User, StoreError> {
    let id = Uuid::now_v7();
    let now = now_timestamp();
    let roles = serde_json::to_string(&user.roles)
        .map_err(|e| StoreError::internal(format!("encoding roles: {e}")))?;
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_users\" ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, NULL, ?7, ?7, 1, '{{}}')"
    ))
    .and_then(|mut s| s.execute(params![id_text(id), user.email.to_lowercase(), user.password_hash, roles, user.tenant, user.verified, now]))
    .map_err(from_sqlite)?;
    user_where(conn, "id", &id_text(id))?
        .ok_or_else(|| StoreError::internal("the new user vanished"))
}

/// One user by `id` or `email` (the column name is one of those two constants).
pub(crate) fn user_where(
    conn: &Connection,
    column: &'static str,
    value: &str,
) -> Result<Option<User>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE \"{column}\" = ?1"
    ))
    .and_then(|mut s| s.query_row([value], read_user).optional())
    .map_err(from_sqlite)
}

fn user_by_id(conn: &Connection, id: Uuid) -> Result<User, StoreError> {
    user_where(conn, "id", &id_text(id))?.ok_or_else(StoreError::not_found)
}

pub(crate) fn record_login_failure(
    conn: &Connection,
    id: Uuid,
    threshold: i64,
    lock_until: &str,
) -> Result<User, StoreError> {
    // While locked, failures change nothing (an attacker cannot stretch the lock); once a lock
    // has expired, counting starts afresh (one more miss does not lock the owner out again).
    conn.prepare_cached(
        "UPDATE \"_fathom_users\" SET
            \"failed_logins\" = CASE
                WHEN \"locked_until\" IS NOT NULL AND \"locked_until\" > ?4 THEN \"failed_logins\"
                WHEN \"locked_until\" IS NOT NULL THEN 1
                ELSE \"failed_logins\" + 1 END,
            \"locked_until\" = CASE
                WHEN \"locked_until\" IS NOT NULL AND \"locked_until\" > ?4 THEN \"locked_until\"
                WHEN (CASE WHEN \"locked_until\" IS NOT NULL THEN 1 ELSE \"failed_logins\" + 1 END) >= ?2 THEN ?3
                ELSE NULL END
         WHERE \"id\" = ?1",
    )
    .and_then(|mut s| s.execute(params![id_text(id), threshold, lock_until, now_timestamp()]))
    .map_err(from_sqlite)?;
    user_by_id(conn, id)
}

pub(crate) fn record_login_success(
    conn: &Connection,
    id: Uuid,
    rehashed: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_users\" SET \"failed_logins\" = 0, \"locked_until\" = NULL,
            \"password_hash\" = COALESCE(?2, \"password_hash\") WHERE \"id\" = ?1",
    )
    .and_then(|mut s| s.execute(params![id_text(id), rehashed]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn create_session(
    conn: &Connection,
    user_id: Uuid,
    refresh_hash: &str,
    expires_at: &str,
    user_agent: Option<&str>,
    ip: Option<&str>,
) -> Result<Session, StoreError> {
    let id = Uuid::now_v7();
    let now = now_timestamp();
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_sessions\" ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?3, NULL, ?5, ?6)"
    ))
    .and_then(|mut s| s.execute(params![id_text(id), id_text(user_id), now, expires_at, user_agent, ip]))
    .map_err(from_sqlite)?;
    conn.prepare_cached("INSERT INTO \"_fathom_refresh_tokens\" (\"hash\", \"session_id\", \"created_at\") VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![refresh_hash, id_text(id), now]))
        .map_err(from_sqlite)?;
    session(conn, id)?.ok_or_else(|| StoreError::internal("the new session vanished"))
}

fn session(conn: &Connection, id: Uuid) -> Result<Option<Session>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM \"_fathom_sessions\" WHERE \"id\" = ?1"
    ))
    .and_then(|mut s| s.query_row([id_text(id)], read_session).optional())
    .map_err(from_sqlite)
}

pub(crate) fn rotate_refresh(
    conn: &Connection,
    hash: &str,
    next_hash: &str,
) -> Result<RefreshOutcome, StoreError> {
    let found = conn
        .prepare_cached("SELECT \"session_id\", \"used_at\" FROM \"_fathom_refresh_tokens\" WHERE \"hash\" = ?1")
        .and_then(|mut s| s.query_row([hash], |r| Ok((uuid_at(r, 0)?, r.get::<_, Option<String>>(1)?))).optional())
        .map_err(from_sqlite)?;
    let Some((session_id, used_at)) = found else {
        return Ok(RefreshOutcome::Invalid);
    };
    let Some(session) = session(conn, session_id)? else {
        return Ok(RefreshOutcome::Invalid);
    };
    if used_at.is_some() {
        // A rotated token came back: someone holds a copy. End the whole family.
        revoke_session(conn, session.user_id, session.id, "refresh_token_reuse")?;
        return Ok(RefreshOutcome::Reused {
            session_id: session.id,
            user_id: session.user_id,
        });
    }
    let now = now_timestamp();
    let user = user_by_id(conn, session.user_id)?;
    if session.revoked_at.is_some() || session.expires_at <= now || user.disabled {
        return Ok(RefreshOutcome::Invalid);
    }
    let changed = conn
        .prepare_cached("UPDATE \"_fathom_refresh_tokens\" SET \"used_at\" = ?2 WHERE \"hash\" = ?1 AND \"used_at\" IS NULL")
        .and_then(|mut s| s.execute(params![hash, now]))
        .map_err(from_sqlite)?;
    if changed != 1 {
        return Ok(RefreshOutcome::Invalid);
    }
    conn.prepare_cached("INSERT INTO \"_fathom_refresh_tokens\" (\"hash\", \"session_id\", \"created_at\") VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![next_hash, id_text(session.id), now]))
        .map_err(from_sqlite)?;
    conn.prepare_cached("UPDATE \"_fathom_sessions\" SET \"last_used_at\" = ?2 WHERE \"id\" = ?1")
        .and_then(|mut s| s.execute(params![id_text(session.id), now]))
        .map_err(from_sqlite)?;
    let session = Session {
        last_used_at: now,
        ..session
    };
    Ok(RefreshOutcome::Rotated {
        session: Box::new(session),
        user: Box::new(user),
    })
}

pub(crate) fn revoke_session(
    conn: &Connection,
    user_id: Uuid,
    session_id: Uuid,
    reason: &str,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_sessions\" SET \"revoked_at\" = ?3, \"revoked_reason\" = ?4
             WHERE \"id\" = ?1 AND \"user_id\" = ?2 AND \"revoked_at\" IS NULL",
        )
        .and_then(|mut s| {
            s.execute(params![
                id_text(session_id),
                id_text(user_id),
                now_timestamp(),
                reason
            ])
        })
        .map_err(from_sqlite)?;
    Ok(changed == 1)
}

pub(crate) fn revoke_sessions(
    conn: &Connection,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<usize, StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_sessions\" SET \"revoked_at\" = ?3, \"revoked_reason\" = ?4
         WHERE \"user_id\" = ?1 AND \"revoked_at\" IS NULL AND \"id\" IS NOT ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            id_text(user_id),
            keep.map(id_text),
            now_timestamp(),
            reason
        ])
    })
    .map_err(from_sqlite)
}

pub(crate) fn sessions(conn: &Connection, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM \"_fathom_sessions\"
             WHERE \"user_id\" = ?1 AND \"revoked_at\" IS NULL AND \"expires_at\" > ?2 ORDER BY \"id\" DESC"
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map(params![id_text(user_id), now_timestamp()], read_session)
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn set_password(
    conn: &Connection,
    user_id: Uuid,
    hash: &str,
    keep: Option<Uuid>,
) -> Result<usize, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_users\" SET \"password_hash\" = ?2, \"updated_at\" = ?3, \"version\" = \"version\" + 1,
                \"failed_logins\" = 0, \"locked_until\" = NULL WHERE \"id\" = ?1",
        )
        .and_then(|mut s| s.execute(params![id_text(user_id), hash, now_timestamp()]))
        .map_err(from_sqlite)?;
    if changed == 0 {
        return Err(StoreError::not_found());
    }
    revoke_sessions(conn, user_id, keep, "password_changed")
}

pub(crate) fn create_one_time_token(
    conn: &Connection,
    user_id: Uuid,
    purpose: &str,
    hash: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO \"_fathom_one_time_tokens\" (\"hash\", \"user_id\", \"purpose\", \"expires_at\") VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![hash, id_text(user_id), purpose, expires_at]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn redeem_one_time_token(
    conn: &Connection,
    purpose: &str,
    hash: &str,
) -> Result<Option<Uuid>, StoreError> {
    let now = now_timestamp();
    conn.prepare_cached(
        "UPDATE \"_fathom_one_time_tokens\" SET \"used_at\" = ?3
         WHERE \"hash\" = ?1 AND \"purpose\" = ?2 AND \"used_at\" IS NULL AND \"expires_at\" > ?3
         RETURNING \"user_id\"",
    )
    .and_then(|mut s| {
        s.query_row(params![hash, purpose, now], |r| uuid_at(r, 0))
            .optional()
    })
    .map_err(from_sqlite)
}

/// Merges `patch` into the stored profile (a null removes a field). Runs on the writer, so two
/// concurrent patches of one profile both land.
pub(crate) fn patch_profile(
    conn: &Connection,
    user_id: Uuid,
    patch: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<User>, StoreError> {
    let Some(user) = user_where(conn, "id", &id_text(user_id))? else {
        return Ok(None);
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
    conn.prepare_cached(&format!(
        "UPDATE \"_fathom_users\" SET \"profile\" = ?2, \"updated_at\" = ?3, \"version\" = \"version\" + 1 WHERE \"id\" = ?1 RETURNING {USER_COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(params![id_text(user_id), profile, now_timestamp()], read_user)
            .optional()
    })
    .map_err(from_sqlite)
}

pub(crate) fn set_verified(conn: &Connection, user_id: Uuid) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_users\" SET \"verified\" = 1, \"updated_at\" = ?2 WHERE \"id\" = ?1",
    )
    .and_then(|mut s| s.execute(params![id_text(user_id), now_timestamp()]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn signing_keys(conn: &Connection) -> Result<Vec<StoredSigningKey>, StoreError> {
    let mut statement = conn
        .prepare_cached("SELECT \"kid\", \"private_key\", \"public_key\", \"created_at\", \"retired_at\" FROM \"_fathom_signing_keys\" ORDER BY \"created_at\"")
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map([], |r| {
            Ok(StoredSigningKey {
                kid: r.get(0)?,
                private_key: r.get(1)?,
                public_key: r.get(2)?,
                created_at: r.get(3)?,
                retired_at: r.get(4)?,
            })
        })
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn add_signing_key(conn: &Connection, key: &StoredSigningKey) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_signing_keys\" SET \"retired_at\" = ?1 WHERE \"retired_at\" IS NULL",
    )
    .and_then(|mut s| s.execute([key.created_at]))
    .map_err(from_sqlite)?;
    conn.prepare_cached(
        "INSERT INTO \"_fathom_signing_keys\" (\"kid\", \"private_key\", \"public_key\", \"created_at\", \"retired_at\") VALUES (?1, ?2, ?3, ?4, NULL)",
    )
    .and_then(|mut s| s.execute(params![key.kid, key.private_key, key.public_key, key.created_at]))
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn users(
    conn: &Connection,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<User>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE \"id\" > COALESCE(?1, '') ORDER BY \"id\" LIMIT ?2"
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map(params![after.map(id_text), limit], read_user)
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn update_user(
    conn: &Connection,
    user_id: Uuid,
    changes: &UserChanges,
) -> Result<User, StoreError> {
    let before = user_by_id(conn, user_id)?;
    let roles = changes.roles.as_ref().unwrap_or(&before.roles);
    let roles = serde_json::to_string(roles)
        .map_err(|e| StoreError::internal(format!("encoding roles: {e}")))?;
    let tenant = changes.tenant.clone().unwrap_or(before.tenant.clone());
    conn.prepare_cached(
        "UPDATE \"_fathom_users\" SET \"roles\" = ?2, \"disabled\" = ?3, \"verified\" = ?4, \"tenant\" = ?5,
            \"updated_at\" = ?6, \"version\" = \"version\" + 1 WHERE \"id\" = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id_text(user_id),
            roles,
            changes.disabled.unwrap_or(before.disabled),
            changes.verified.unwrap_or(before.verified),
            tenant,
            now_timestamp()
        ])
    })
    .map_err(from_sqlite)?;
    if changes.disabled == Some(true) {
        revoke_sessions(conn, user_id, None, "account_disabled")?;
    }
    user_by_id(conn, user_id)
}

/// The user a live single-use token belongs to, without redeeming it.
pub(crate) fn one_time_token_user(
    conn: &Connection,
    purpose: &str,
    hash: &str,
) -> Result<Option<Uuid>, StoreError> {
    conn.prepare_cached(
        "SELECT \"user_id\" FROM \"_fathom_one_time_tokens\"
         WHERE \"hash\" = ?1 AND \"purpose\" = ?2 AND \"used_at\" IS NULL AND \"expires_at\" > ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![hash, purpose, now_timestamp()], |r| uuid_at(r, 0))
            .optional()
    })
    .map_err(from_sqlite)
}

pub(crate) fn live_session_authority(
    conn: &Connection,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<Authority>, StoreError> {
    conn.prepare_cached(
        "SELECT u.\"roles\", u.\"tenant\", u.\"verified\" FROM \"_fathom_sessions\" s JOIN \"_fathom_users\" u ON u.\"id\" = s.\"user_id\"
         WHERE s.\"id\" = ?1 AND s.\"user_id\" = ?2 AND s.\"revoked_at\" IS NULL AND s.\"expires_at\" > ?3 AND u.\"disabled\" = 0",
    )
    .and_then(|mut s| {
        s.query_row(
            params![id_text(session_id), id_text(user_id), now_timestamp()],
            |r| {
                Ok(Authority {
                    // Unreadable roles grant nothing rather than failing every request.
                    roles: serde_json::from_str(&r.get::<_, String>(0)?).unwrap_or_default(),
                    tenant: r.get(1)?,
                    verified: r.get::<_, i64>(2)? != 0,
                })
            },
        )
        .optional()
    })
    .map_err(from_sqlite)
}
