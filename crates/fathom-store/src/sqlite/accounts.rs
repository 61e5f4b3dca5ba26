//! Accounts as the target of relations, on SQLite: reading several accounts at once (for
//! `expand`) and deleting one with the `on_delete` of every relation pointing at it.

use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::SqliteStore;
use super::identity::{USER_COLUMNS, read_user};
use crate::accounts::EMAIL_CHANGE;
use crate::error::{StoreError, from_sqlite};
use crate::events::Origin;
use crate::identity::User;

/// The accounts among `ids`, ordered by id. The ids travel as one JSON array parameter.
pub(crate) fn users_in(conn: &Connection, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
    let list: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
    let list = serde_json::to_string(&list).map_err(|e| StoreError::internal(e.to_string()))?;
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM \"_fathom_users\" \
         WHERE \"id\" IN (SELECT \"value\" FROM json_each(?1)) ORDER BY \"id\""
    );
    let mut statement = conn.prepare_cached(&sql).map_err(from_sqlite)?;
    let rows = statement
        .query_map([list], read_user)
        .map_err(from_sqlite)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(from_sqlite)
}

/// See [`crate::Store::confirm_email_change`]; runs in a writer job's savepoint.
pub(crate) fn confirm_email_change(
    conn: &Connection,
    hash: &str,
) -> Result<Option<User>, StoreError> {
    let now = fathom_schema::value::now_timestamp();
    let redeemed: Option<(String, String)> = conn
        .prepare_cached(
            "UPDATE \"_fathom_one_time_tokens\" SET \"used_at\" = ?2
             WHERE \"hash\" = ?1 AND substr(\"purpose\", 1, ?3) = ?4
               AND \"used_at\" IS NULL AND \"expires_at\" > ?2
             RETURNING \"user_id\", \"purpose\"",
        )
        .and_then(|mut s| {
            s.query_row(
                rusqlite::params![hash, now, EMAIL_CHANGE.len() as i64, EMAIL_CHANGE],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .map_err(from_sqlite)?;
    let Some((user_id, purpose)) = redeemed else {
        return Ok(None);
    };
    let email = &purpose[EMAIL_CHANGE.len()..];
    let sql = format!(
        "UPDATE \"_fathom_users\" SET \"email\" = ?2, \"verified\" = 1, \"updated_at\" = ?3,
         \"version\" = \"version\" + 1 WHERE \"id\" = ?1 RETURNING {USER_COLUMNS}"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(rusqlite::params![user_id, email, now], read_user)
                .optional()
        })
        .map_err(from_sqlite)
}

impl SqliteStore {
    /// See [`crate::Store::delete_user`]: one writer job, so the cascade, the deletion, the
    /// events and the audit entries commit together or not at all.
    pub(crate) async fn delete_user(&self, id: Uuid, origin: Origin) -> Result<bool, StoreError> {
        let schemas = self.schemas.clone();
        self.pool
            .write(move |conn| {
                let schema = super::applied_schema(conn, &schemas)?;
                let mut drafts = Vec::new();
                let accounts = crate::accounts::collection();
                super::records::cascade(conn, &schema, &accounts, id, &mut drafts, 0)?;
                let removed = conn
                    .prepare_cached("DELETE FROM \"_fathom_users\" WHERE \"id\" = ?1")
                    .and_then(|mut s| s.execute([id.hyphenated().to_string()]))
                    .map_err(from_sqlite)?;
                super::events::append(conn, &drafts, &origin)?;
                super::audit::append(conn, &crate::audit::record_entries(&drafts, &origin))?;
                Ok(removed > 0)
            })
            .await
    }
}
