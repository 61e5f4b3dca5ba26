//! API keys on PostgreSQL: stored by visible prefix with the hash of the whole key, and read
//! with their creator's account as it is now.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::identity::{now, rows, timestamp};
use super::values::{get, get_timestamp, parse_timestamp};
use crate::error::StoreError;
use crate::identity::{ApiKey, KeyCreator};

const COLUMNS: &str = "\"id\", \"prefix\", \"hash\", \"name\", \"scopes\", \"tenant\", \"created_at\", \"revoked_at\", \"created_by\"";

/// The key's columns (as `k`) followed by its creator's roles and disabled flag (null without
/// a creator account).
const WITH_CREATOR: &str = "SELECT k.\"id\", k.\"prefix\", k.\"hash\", k.\"name\", k.\"scopes\", k.\"tenant\", k.\"created_at\", k.\"revoked_at\", k.\"created_by\", u.\"roles\", u.\"disabled\"
     FROM \"_fathom_api_keys\" k LEFT JOIN \"_fathom_users\" u ON u.\"id\" = k.\"created_by\"";

/// A key from [`COLUMNS`]; the creator is left out (see [`read_with_creator`]).
fn read(row: &Row) -> Result<ApiKey, StoreError> {
    let scopes: serde_json::Value = get(row, 4)?;
    Ok(ApiKey {
        id: get(row, 0)?,
        prefix: get(row, 1)?,
        hash: get(row, 2)?,
        name: get(row, 3)?,
        scopes: serde_json::from_value(scopes).unwrap_or_default(),
        tenant: get(row, 5)?,
        created_at: timestamp(row, 6)?,
        revoked_at: get_timestamp(row, 7)?,
        created_by: get(row, 8)?,
        creator: None,
    })
}

/// A key from [`WITH_CREATOR`].
fn read_with_creator(row: &Row) -> Result<ApiKey, StoreError> {
    let mut key = read(row)?;
    let roles: Option<serde_json::Value> = get(row, 9)?;
    let disabled: Option<bool> = get(row, 10)?;
    if let (Some(roles), Some(disabled)) = (roles, disabled) {
        key.creator = Some(KeyCreator {
            roles: serde_json::from_value(roles).unwrap_or_default(),
            disabled,
        });
    }
    Ok(key)
}

pub(crate) async fn create<C: GenericClient>(conn: &C, key: &ApiKey) -> Result<(), StoreError> {
    let scopes = serde_json::to_value(&key.scopes)
        .map_err(|e| StoreError::internal(format!("encoding scopes: {e}")))?;
    let sql = format!(
        "INSERT INTO \"_fathom_api_keys\" ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)"
    );
    super::identity::execute(
        conn,
        &sql,
        &[
            &key.id,
            &key.prefix,
            &key.hash,
            &key.name,
            &scopes,
            &key.tenant,
            &parse_timestamp(&key.created_at)?,
            &key.created_by,
        ],
    )
    .await
    .map(drop)
}

pub(crate) async fn by_prefix<C: GenericClient>(
    conn: &C,
    prefix: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("{WITH_CREATOR} WHERE k.\"prefix\" = $1");
    rows(conn, &sql, &[&prefix])
        .await?
        .first()
        .map(read_with_creator)
        .transpose()
}

pub(crate) async fn all<C: GenericClient>(conn: &C) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!("{WITH_CREATOR} ORDER BY k.\"created_at\", k.\"id\"");
    rows(conn, &sql, &[])
        .await?
        .iter()
        .map(read_with_creator)
        .collect()
}

pub(crate) async fn revoke<C: GenericClient>(
    conn: &C,
    id: Uuid,
) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!(
        "UPDATE \"_fathom_api_keys\" SET \"revoked_at\" = $1 WHERE \"id\" = $2 AND \"revoked_at\" IS NULL RETURNING {COLUMNS}"
    );
    rows(conn, &sql, &[&now()?, &id])
        .await?
        .first()
        .map(read)
        .transpose()
}
