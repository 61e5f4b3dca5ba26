//! Relations to user accounts (`collection = "users"` in the schema) and the removal of an
//! account. A relation to accounts is a column with a foreign key into `_fathom_users`, the
//! identity table, so the database refuses ids of no account; deleting an account applies each
//! such relation's `on_delete` the way a record's hard delete does (`cascade.rs`): records are
//! removed or cleared first, each with its outbox event, in the deletion's transaction, and a
//! `restrict` relation still holding the id fails the deletion as a foreign-key violation.

use std::sync::Arc;

use fathom_schema::{ACCOUNTS, Collection, Rules};
use uuid::Uuid;

use crate::error::StoreError;
use crate::events::Origin;
use crate::identity::User;
use crate::{Backend, Store};

/// The table holding the accounts.
pub(crate) const TABLE: &str = fathom_schema::ACCOUNTS_TABLE;

/// The table a relation to `target` references: the accounts' table for `users`, else the
/// collection's own.
pub(crate) fn table(target: &str) -> &str {
    if target == ACCOUNTS { TABLE } else { target }
}

/// The accounts seen as the target of relations: only its name matters to the cascade, which
/// looks up the relations pointing at it.
pub(crate) fn collection() -> Arc<Collection> {
    Arc::new(Collection {
        name: ACCOUNTS.to_owned(),
        fields: Vec::new(),
        indexes: Vec::new(),
        soft_delete: false,
        timestamps: true,
        tenant_scoped: false,
        require_if_match: false,
        audit: false,
        cache: None,
        rules: Rules::default(),
    })
}

/// The purpose of a single-use token confirming an email change, followed by the new address
/// (`change_email:<address>`): the token carries the address it confirms.
pub const EMAIL_CHANGE: &str = "change_email:";

/// The most accounts one [`Store::users_by_ids`] call reads.
pub const MAX_USERS_BY_IDS: usize = 1000;

impl Store {
    /// Deletes the account `id` with its sessions, refresh tokens and single-use tokens, after
    /// removing or clearing the records that point at it through relations with `on_delete =
    /// "cascade"` or `"set_null"` (each with its event, made by `origin`). A relation with
    /// `restrict` that still holds the id fails the whole deletion with a foreign-key violation
    /// and changes nothing. Answers whether the account existed.
    pub async fn delete_user(&self, id: Uuid, origin: Origin) -> Result<bool, StoreError> {
        self.count_statement();
        match &*self.backend {
            Backend::Sqlite(s) => s.delete_user(id, origin).await,
            Backend::Postgres(p) => p.delete_user(id, origin).await,
        }
    }

    /// Redeems an email-change token (stored under [`EMAIL_CHANGE`] + the new address) and
    /// gives its account that address, marked verified, in one transaction: a token that is
    /// unknown, used or expired changes nothing (`None`); an address taken meanwhile fails as a
    /// unique violation on `email` and leaves the token unspent.
    pub async fn confirm_email_change(&self, hash: String) -> Result<Option<User>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |conn| crate::sqlite::accounts::confirm_email_change(conn, &hash))
                    .await
            }
            Backend::Postgres(p) => p.confirm_email_change(&hash).await,
        }
    }

    /// The accounts among `ids` (at most [`MAX_USERS_BY_IDS`]), in one query, ordered by id.
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_USERS_BY_IDS {
            return Err(StoreError::internal("too many accounts asked for at once"));
        }
        self.count_statement();
        let ids = ids.to_vec();
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .read(move |conn| crate::sqlite::accounts::users_in(conn, &ids))
                    .await
            }
            Backend::Postgres(p) => {
                let client = p.client().await?;
                crate::postgres::accounts::users_in(&client, &ids).await
            }
        }
    }
}
