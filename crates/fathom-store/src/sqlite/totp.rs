//! TOTP second-factor SQL on SQLite (`crate::totp` seals and opens the secrets). Each function
//! runs inside one writer job or on a reader, so a read-then-update here is atomic.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::error::{StoreError, from_sqlite};
use crate::totp::RawTotp;

fn id(user: Uuid) -> String {
    user.hyphenated().to_string()
}

/// The account's TOTP row with its count of unused recovery codes, if it has one.
pub(crate) fn factor(conn: &Connection, user: Uuid) -> Result<Option<RawTotp>, StoreError> {
    conn.prepare_cached(
        "SELECT \"secret\", \"pending_secret\", \"pending_expires_at\", \"enabled_at\", \"last_step\",
                \"failures\", \"locked_until\",
                (SELECT COUNT(*) FROM \"_fathom_totp_recovery_codes\" r
                  WHERE r.\"user_id\" = t.\"user_id\" AND r.\"used_at\" IS NULL)
         FROM \"_fathom_totp\" t WHERE \"user_id\" = ?1",
    )
    .and_then(|mut s| {
        s.query_row([id(user)], |r| {
            Ok(RawTotp {
                secret: r.get(0)?,
                pending: r.get(1)?,
                pending_expires_at: r.get(2)?,
                enabled_at: r.get(3)?,
                last_step: r.get(4)?,
                failures: r.get(5)?,
                locked_until: r.get(6)?,
                recovery_left: r.get(7)?,
            })
        })
        .optional()
    })
    .map_err(from_sqlite)
}

/// Stores `sealed` as the pending secret until `expires_at`, keeping an active one as it is.
pub(crate) fn set_pending(
    conn: &Connection,
    user: Uuid,
    sealed: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO \"_fathom_totp\" (\"user_id\", \"pending_secret\", \"pending_expires_at\", \"updated_at\")
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (\"user_id\") DO UPDATE SET \"pending_secret\" = excluded.\"pending_secret\",
             \"pending_expires_at\" = excluded.\"pending_expires_at\", \"updated_at\" = excluded.\"updated_at\"",
    )
    .and_then(|mut s| s.execute(params![id(user), sealed, expires_at, now_timestamp()]))
    .map_err(from_sqlite)?;
    Ok(())
}

/// Replaces the account's recovery codes with `hashes`.
pub(crate) fn replace_recovery_codes(
    conn: &Connection,
    user: Uuid,
    hashes: &[String],
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM \"_fathom_totp_recovery_codes\" WHERE \"user_id\" = ?1")
        .and_then(|mut s| s.execute([id(user)]))
        .map_err(from_sqlite)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO \"_fathom_totp_recovery_codes\" (\"user_id\", \"hash\") VALUES (?1, ?2)",
        )
        .map_err(from_sqlite)?;
    for hash in hashes {
        insert
            .execute(params![id(user), hash])
            .map_err(from_sqlite)?;
    }
    Ok(())
}

/// Turns the pending secret `sealed` on (if it is still the pending one and not expired), with
/// `step` as the last accepted step and `hashes` as the recovery codes. `false` when it is not.
pub(crate) fn confirm(
    conn: &Connection,
    user: Uuid,
    sealed: &str,
    step: i64,
    hashes: &[String],
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_totp\" SET \"secret\" = \"pending_secret\", \"pending_secret\" = NULL,
                 \"pending_expires_at\" = NULL, \"enabled_at\" = ?4, \"last_step\" = ?3,
                 \"failures\" = 0, \"locked_until\" = NULL, \"updated_at\" = ?4
             WHERE \"user_id\" = ?1 AND \"pending_secret\" = ?2 AND \"pending_expires_at\" > ?4",
        )
        .and_then(|mut s| s.execute(params![id(user), sealed, step, now]))
        .map_err(from_sqlite)?;
    if changed == 0 {
        return Ok(false);
    }
    replace_recovery_codes(conn, user, hashes)?;
    Ok(true)
}

/// Removes the factor, its recovery codes and open challenges. `true` when there was one.
pub(crate) fn disable(conn: &Connection, user: Uuid) -> Result<bool, StoreError> {
    for table in ["_fathom_totp_recovery_codes", "_fathom_totp_challenges"] {
        conn.prepare_cached(&format!("DELETE FROM \"{table}\" WHERE \"user_id\" = ?1"))
            .and_then(|mut s| s.execute([id(user)]))
            .map_err(from_sqlite)?;
    }
    let removed = conn
        .prepare_cached("DELETE FROM \"_fathom_totp\" WHERE \"user_id\" = ?1")
        .and_then(|mut s| s.execute([id(user)]))
        .map_err(from_sqlite)?;
    Ok(removed > 0)
}

/// Records `step` as accepted when it is later than the last accepted one (no replay), and
/// clears the failure count. `false` when the step (or a later one) was already accepted.
pub(crate) fn accept_step(conn: &Connection, user: Uuid, step: i64) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_totp\" SET \"last_step\" = ?2, \"failures\" = 0, \"locked_until\" = NULL,
                 \"updated_at\" = ?3
             WHERE \"user_id\" = ?1 AND \"secret\" IS NOT NULL
               AND (\"last_step\" IS NULL OR \"last_step\" < ?2)",
        )
        .and_then(|mut s| s.execute(params![id(user), step, now_timestamp()]))
        .map_err(from_sqlite)?;
    Ok(changed == 1)
}

/// Spends the recovery code with hash `hash` (once) and clears the failure count.
pub(crate) fn redeem_recovery_code(
    conn: &Connection,
    user: Uuid,
    hash: &str,
) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let spent = conn
        .prepare_cached(
            "UPDATE \"_fathom_totp_recovery_codes\" SET \"used_at\" = ?3
             WHERE \"user_id\" = ?1 AND \"hash\" = ?2 AND \"used_at\" IS NULL",
        )
        .and_then(|mut s| s.execute(params![id(user), hash, now]))
        .map_err(from_sqlite)?;
    if spent == 1 {
        conn.prepare_cached(
            "UPDATE \"_fathom_totp\" SET \"failures\" = 0, \"locked_until\" = NULL WHERE \"user_id\" = ?1",
        )
        .and_then(|mut s| s.execute([id(user)]))
        .map_err(from_sqlite)?;
    }
    Ok(spent == 1)
}

/// Counts a wrong second factor; at `threshold` failures the factor is locked until
/// `lock_until`, which is returned. A lock that has run out starts the count afresh.
pub(crate) fn record_failure(
    conn: &Connection,
    user: Uuid,
    threshold: i64,
    lock_until: &str,
) -> Result<Option<String>, StoreError> {
    let now = now_timestamp();
    let current: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT \"failures\", \"locked_until\" FROM \"_fathom_totp\" WHERE \"user_id\" = ?1",
        )
        .and_then(|mut s| {
            s.query_row([id(user)], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(from_sqlite)?;
    let Some((failures, locked)) = current else {
        return Ok(None);
    };
    let expired = locked.as_deref().is_some_and(|until| until <= now.as_str());
    let failures = if expired { 1 } else { failures + 1 };
    let locked = if failures >= threshold {
        Some(lock_until.to_owned())
    } else if expired {
        None
    } else {
        locked
    };
    conn.prepare_cached(
        "UPDATE \"_fathom_totp\" SET \"failures\" = ?2, \"locked_until\" = ?3 WHERE \"user_id\" = ?1",
    )
    .and_then(|mut s| s.execute(params![id(user), failures, locked]))
    .map_err(from_sqlite)?;
    Ok(locked.filter(|_| failures >= threshold))
}

/// Stores a sign-in challenge by its hash, dropping expired ones.
pub(crate) fn create_challenge(
    conn: &Connection,
    hash: &str,
    user: Uuid,
    expires_at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM \"_fathom_totp_challenges\" WHERE \"expires_at\" <= ?1")
        .and_then(|mut s| s.execute([now_timestamp()]))
        .map_err(from_sqlite)?;
    conn.prepare_cached(
        "INSERT INTO \"_fathom_totp_challenges\" (\"hash\", \"user_id\", \"expires_at\") VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![hash, id(user), expires_at]))
    .map_err(from_sqlite)?;
    Ok(())
}

/// Takes one attempt of a live challenge that has fewer than `max` attempts: its user.
pub(crate) fn take_attempt(
    conn: &Connection,
    hash: &str,
    max: i64,
) -> Result<Option<Uuid>, StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_totp_challenges\" SET \"attempts\" = \"attempts\" + 1
         WHERE \"hash\" = ?1 AND \"used_at\" IS NULL AND \"expires_at\" > ?2 AND \"attempts\" < ?3
         RETURNING \"user_id\"",
    )
    .and_then(|mut s| {
        s.query_row(params![hash, now_timestamp(), max], |r| {
            super::identity::uuid_at(r, 0)
        })
        .optional()
    })
    .map_err(from_sqlite)
}

/// Spends a challenge: exactly one caller gets `true`.
pub(crate) fn consume_challenge(conn: &Connection, hash: &str) -> Result<bool, StoreError> {
    let now = now_timestamp();
    let changed = conn
        .prepare_cached(
            "UPDATE \"_fathom_totp_challenges\" SET \"used_at\" = ?2
             WHERE \"hash\" = ?1 AND \"used_at\" IS NULL AND \"expires_at\" > ?2",
        )
        .and_then(|mut s| s.execute(params![hash, now]))
        .map_err(from_sqlite)?;
    Ok(changed == 1)
}
