//! TOTP second-factor SQL on PostgreSQL, one function per SQLite counterpart (same names, same
//! arguments). Each writer runs in one transaction; a read-then-update locks its row.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::identity::{execute, now, rows};
use super::values::{get, get_timestamp, parse_timestamp};
use crate::error::StoreError;
use crate::totp::RawTotp;

/// The account's TOTP row with its count of unused recovery codes, if it has one.
pub(crate) async fn factor<C: GenericClient>(
    conn: &C,
    user: Uuid,
) -> Result<Option<RawTotp>, StoreError> {
    let found = rows(
        conn,
        "SELECT \"secret\", \"pending_secret\", \"pending_expires_at\", \"enabled_at\", \"last_step\",
                \"failures\", \"locked_until\",
                (SELECT COUNT(*) FROM \"_fathom_totp_recovery_codes\" r
                  WHERE r.\"user_id\" = t.\"user_id\" AND r.\"used_at\" IS NULL)
         FROM \"_fathom_totp\" t WHERE \"user_id\" = $1",
        &[&user],
    )
    .await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    Ok(Some(RawTotp {
        secret: get(row, 0)?,
        pending: get(row, 1)?,
        pending_expires_at: get_timestamp(row, 2)?,
        enabled_at: get_timestamp(row, 3)?,
        last_step: get(row, 4)?,
        failures: get(row, 5)?,
        locked_until: get_timestamp(row, 6)?,
        recovery_left: get(row, 7)?,
    }))
}

/// Stores `sealed` as the pending secret until `expires_at`, keeping an active one as it is.
pub(crate) async fn set_pending<C: GenericClient>(
    conn: &C,
    user: Uuid,
    sealed: &str,
    expires_at: &str,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO \"_fathom_totp\" (\"user_id\", \"pending_secret\", \"pending_expires_at\", \"updated_at\")
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (\"user_id\") DO UPDATE SET \"pending_secret\" = excluded.\"pending_secret\",
             \"pending_expires_at\" = excluded.\"pending_expires_at\", \"updated_at\" = excluded.\"updated_at\"",
        &[&user, &sealed, &parse_timestamp(expires_at)?, &now()?],
    )
    .await?;
    Ok(())
}

/// Replaces the account's recovery codes with `hashes`.
pub(crate) async fn replace_recovery_codes<C: GenericClient>(
    conn: &C,
    user: Uuid,
    hashes: &[String],
) -> Result<(), StoreError> {
    execute(
        conn,
        "DELETE FROM \"_fathom_totp_recovery_codes\" WHERE \"user_id\" = $1",
        &[&user],
    )
    .await?;
    for hash in hashes {
        execute(
            conn,
            "INSERT INTO \"_fathom_totp_recovery_codes\" (\"user_id\", \"hash\") VALUES ($1, $2)",
            &[&user, hash],
        )
        .await?;
    }
    Ok(())
}

/// Turns the pending secret `sealed` on (if it is still the pending one and not expired), with
/// `step` as the last accepted step and `hashes` as the recovery codes. `false` when it is not.
pub(crate) async fn confirm<C: GenericClient>(
    conn: &C,
    user: Uuid,
    sealed: &str,
    step: i64,
    hashes: &[String],
) -> Result<bool, StoreError> {
    let changed = execute(
        conn,
        "UPDATE \"_fathom_totp\" SET \"secret\" = \"pending_secret\", \"pending_secret\" = NULL,
             \"pending_expires_at\" = NULL, \"enabled_at\" = $4, \"last_step\" = $3,
             \"failures\" = 0, \"locked_until\" = NULL, \"updated_at\" = $4
         WHERE \"user_id\" = $1 AND \"pending_secret\" = $2 AND \"pending_expires_at\" > $4",
        &[&user, &sealed, &step, &now()?],
    )
    .await?;
    if changed == 0 {
        return Ok(false);
    }
    replace_recovery_codes(conn, user, hashes).await?;
    Ok(true)
}

/// Removes the factor, its recovery codes and open challenges. `true` when there was one.
pub(crate) async fn disable<C: GenericClient>(conn: &C, user: Uuid) -> Result<bool, StoreError> {
    execute(
        conn,
        "DELETE FROM \"_fathom_totp_recovery_codes\" WHERE \"user_id\" = $1",
        &[&user],
    )
    .await?;
    execute(
        conn,
        "DELETE FROM \"_fathom_totp_challenges\" WHERE \"user_id\" = $1",
        &[&user],
    )
    .await?;
    let removed = execute(
        conn,
        "DELETE FROM \"_fathom_totp\" WHERE \"user_id\" = $1",
        &[&user],
    )
    .await?;
    Ok(removed > 0)
}

/// Records `step` as accepted when it is later than the last accepted one (no replay, also
/// between nodes: the condition is checked under the row's lock), and clears the failures.
pub(crate) async fn accept_step<C: GenericClient>(
    conn: &C,
    user: Uuid,
    step: i64,
) -> Result<bool, StoreError> {
    let changed = execute(
        conn,
        "UPDATE \"_fathom_totp\" SET \"last_step\" = $2, \"failures\" = 0, \"locked_until\" = NULL,
             \"updated_at\" = $3
         WHERE \"user_id\" = $1 AND \"secret\" IS NOT NULL
           AND (\"last_step\" IS NULL OR \"last_step\" < $2)",
        &[&user, &step, &now()?],
    )
    .await?;
    Ok(changed == 1)
}

/// Spends the recovery code with hash `hash` (once) and clears the failure count.
pub(crate) async fn redeem_recovery_code<C: GenericClient>(
    conn: &C,
    user: Uuid,
    hash: &str,
) -> Result<bool, StoreError> {
    let spent = execute(
        conn,
        "UPDATE \"_fathom_totp_recovery_codes\" SET \"used_at\" = $3
         WHERE \"user_id\" = $1 AND \"hash\" = $2 AND \"used_at\" IS NULL",
        &[&user, &hash, &now()?],
    )
    .await?;
    if spent == 1 {
        execute(
            conn,
            "UPDATE \"_fathom_totp\" SET \"failures\" = 0, \"locked_until\" = NULL WHERE \"user_id\" = $1",
            &[&user],
        )
        .await?;
    }
    Ok(spent == 1)
}

/// Counts a wrong second factor; at `threshold` failures the factor is locked until
/// `lock_until`, which is returned. A lock that has run out starts the count afresh.
pub(crate) async fn record_failure<C: GenericClient>(
    conn: &C,
    user: Uuid,
    threshold: i64,
    lock_until: &str,
) -> Result<Option<String>, StoreError> {
    let found = rows(
        conn,
        "SELECT \"failures\", \"locked_until\" FROM \"_fathom_totp\" WHERE \"user_id\" = $1 FOR UPDATE",
        &[&user],
    )
    .await?;
    let Some(row) = found.first() else {
        return Ok(None);
    };
    let failures: i64 = get(row, 0)?;
    let locked = get::<Option<time::OffsetDateTime>>(row, 1)?;
    let now = now()?;
    let expired = locked.is_some_and(|until| until <= now);
    let failures = if expired { 1 } else { failures + 1 };
    let reached = failures >= threshold;
    let locked = if reached {
        Some(parse_timestamp(lock_until)?)
    } else if expired {
        None
    } else {
        locked
    };
    execute(
        conn,
        "UPDATE \"_fathom_totp\" SET \"failures\" = $2, \"locked_until\" = $3 WHERE \"user_id\" = $1",
        &[&user, &failures, &locked],
    )
    .await?;
    Ok(reached.then(|| lock_until.to_owned()))
}

/// Stores a sign-in challenge by its hash, dropping expired ones.
pub(crate) async fn create_challenge<C: GenericClient>(
    conn: &C,
    hash: &str,
    user: Uuid,
    expires_at: &str,
) -> Result<(), StoreError> {
    execute(
        conn,
        "DELETE FROM \"_fathom_totp_challenges\" WHERE \"expires_at\" <= $1",
        &[&now()?],
    )
    .await?;
    execute(
        conn,
        "INSERT INTO \"_fathom_totp_challenges\" (\"hash\", \"user_id\", \"expires_at\") VALUES ($1, $2, $3)",
        &[&hash, &user, &parse_timestamp(expires_at)?],
    )
    .await?;
    Ok(())
}

/// Takes one attempt of a live challenge that has fewer than `max` attempts: its user.
pub(crate) async fn take_attempt<C: GenericClient>(
    conn: &C,
    hash: &str,
    max: i64,
) -> Result<Option<Uuid>, StoreError> {
    rows(
        conn,
        "UPDATE \"_fathom_totp_challenges\" SET \"attempts\" = \"attempts\" + 1
         WHERE \"hash\" = $1 AND \"used_at\" IS NULL AND \"expires_at\" > $2 AND \"attempts\" < $3
         RETURNING \"user_id\"",
        &[&hash, &now()?, &max],
    )
    .await?
    .first()
    .map(|r| get(r, 0))
    .transpose()
}

/// Spends a challenge: exactly one caller gets `true`.
pub(crate) async fn consume_challenge<C: GenericClient>(
    conn: &C,
    hash: &str,
) -> Result<bool, StoreError> {
    let now = now()?;
    let changed = execute(
        conn,
        "UPDATE \"_fathom_totp_challenges\" SET \"used_at\" = $2
         WHERE \"hash\" = $1 AND \"used_at\" IS NULL AND \"expires_at\" > $2",
        &[&hash, &now],
    )
    .await?;
    Ok(changed == 1)
}
