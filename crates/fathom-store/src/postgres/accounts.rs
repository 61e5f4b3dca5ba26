//! Accounts as the target of relations, on PostgreSQL: reading several accounts at once (for
//! `expand`) and deleting one with the `on_delete` of every relation pointing at it.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::PgStore;
use super::identity::{USER_COLUMNS, read_user, rows};
use crate::accounts::EMAIL_CHANGE;
use crate::error::{StoreError, from_postgres};
use crate::events::Origin;
use crate::identity::User;
use crate::record::Scope;

/// The accounts among `ids`, ordered by id.
pub(crate) async fn users_in<C: GenericClient>(
    conn: &C,
    ids: &[Uuid],
) -> Result<Vec<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM \"_fathom_users\" WHERE \"id\" = ANY($1) ORDER BY \"id\""
    );
    let ids = ids.to_vec();
    rows(conn, &sql, &[&ids])
        .await?
        .iter()
        .map(read_user)
        .collect()
}

impl PgStore {
    /// See [`crate::Store::confirm_email_change`]: one transaction, the token row and the
    /// account row locked by their updates.
    pub(crate) async fn confirm_email_change(
        &self,
        hash: &str,
    ) -> Result<Option<User>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_postgres)?;
        let now = super::identity::now()?;
        let prefix_len = i32::try_from(EMAIL_CHANGE.len()).unwrap_or(i32::MAX);
        let redeemed = rows(
            &tx,
            "UPDATE \"_fathom_one_time_tokens\" SET \"used_at\" = $2
             WHERE \"hash\" = $1 AND substr(\"purpose\", 1, $3) = $4
               AND \"used_at\" IS NULL AND \"expires_at\" > $2
             RETURNING \"user_id\", \"purpose\"",
            &[&hash, &now, &prefix_len, &EMAIL_CHANGE],
        )
        .await?;
        let Some(row) = redeemed.first() else {
            return Ok(None);
        };
        let user_id: Uuid = super::values::get(row, 0)?;
        let purpose: String = super::values::get(row, 1)?;
        let email = &purpose[EMAIL_CHANGE.len()..];
        let sql = format!(
            "UPDATE \"_fathom_users\" SET \"email\" = $2, \"verified\" = true, \"updated_at\" = $3,
             \"version\" = \"version\" + 1 WHERE \"id\" = $1 RETURNING {USER_COLUMNS}"
        );
        let user = rows(&tx, &sql, &[&user_id, &email, &now])
            .await?
            .first()
            .map(read_user)
            .transpose()?;
        tx.commit().await.map_err(from_postgres)?;
        Ok(user)
    }

    /// See [`crate::Store::delete_user`]: one transaction reaching every tenant's records (the
    /// records pointing at an account may belong to any tenant), so the cascade, the deletion,
    /// the events and the audit entries commit together or not at all.
    pub(crate) async fn delete_user(&self, id: Uuid, origin: Origin) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(from_postgres)?;
        super::scope::enter(&tx, &Scope::AllTenants).await?;
        let schema = super::records::applied_schema(self, &tx).await?;
        let mut drafts = Vec::new();
        super::records::cascade(
            &tx,
            &schema,
            crate::accounts::collection(),
            id,
            &mut drafts,
            0,
        )
        .await?;
        let removed = tx
            .execute("DELETE FROM \"_fathom_users\" WHERE \"id\" = $1", &[&id])
            .await
            .map_err(from_postgres)?;
        super::events::append(&tx, &drafts, &origin).await?;
        super::audit::append(&tx, &crate::audit::record_entries(&drafts, &origin)).await?;
        tx.commit().await.map_err(from_postgres)?;
        Ok(removed > 0)
    }
}
