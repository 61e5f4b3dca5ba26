//! Online key rotation: re-encrypting stored values under the key ring's writing key, one batch
//! per transaction, while the server serves (`fathom keys rotate-data`).
//!
//! A batch reads up to N records of one collection holding a ciphertext under another key (locked
//! for the batch: SQLite's single writer, `FOR UPDATE` on PostgreSQL, so a concurrent update
//! either lands before and is already under the writing key, or waits and lands after), decrypts
//! each such value and seals it again in the same place. The plaintext does not change, so the
//! record keeps its version and no event is written. Every batch commits on its own: an
//! interrupted rotation resumes where it stopped by running again.

use fathom_query::Dialect;
use fathom_schema::Collection;

use crate::crypto::{CIPHERTEXT_PREFIX, KeyRing};
use crate::error::{StoreError, StoreErrorKind};

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The prefix of values already under `key`.
pub(crate) fn current_prefix(key: &str) -> String {
    format!("{CIPHERTEXT_PREFIX}{key}:")
}

/// `SELECT id, <encrypted fields> ... WHERE <some field holds a value under another key>
/// ORDER BY id LIMIT n`, binding the current prefix once (`?1` / `$1`) and the limit.
pub(crate) fn stale_select(dialect: Dialect, collection: &Collection, limit: u32) -> String {
    let fields: Vec<String> = collection
        .fields
        .iter()
        .filter(|f| f.encrypted)
        .map(|f| ident(&f.name))
        .collect();
    let (prefix, len) = match dialect {
        Dialect::Sqlite => ("?1", "length(?1)"),
        Dialect::Postgres => ("$1::text", "length($1::text)"),
    };
    let stale: Vec<String> = fields
        .iter()
        .map(|f| {
            format!(
                "(substr({f}, 1, 4) = '{CIPHERTEXT_PREFIX}' AND substr({f}, 1, {len}) <> {prefix})"
            )
        })
        .collect();
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE",
    };
    format!(
        "SELECT CAST(\"id\" AS TEXT), {} FROM {} WHERE {} ORDER BY \"id\" LIMIT {limit}{lock}",
        fields.join(", "),
        ident(&collection.name),
        stale.join(" OR ")
    )
}

/// `UPDATE <collection> SET <field> = ?1 WHERE id = ?2 AND <field> = ?3`.
pub(crate) fn update_sql(dialect: Dialect, collection: &Collection, field: &str) -> String {
    let (new, id, old) = match dialect {
        Dialect::Sqlite => ("?1", "?2", "?3"),
        Dialect::Postgres => ("$1::text", "($2::text)::uuid", "$3::text"),
    };
    format!(
        "UPDATE {} SET {f} = {new} WHERE \"id\" = {id} AND {f} = {old}",
        ident(&collection.name),
        f = ident(field)
    )
}

/// One value to rewrite: field, record id, the stored value and its replacement.
pub(crate) struct Rewrite {
    pub(crate) field: String,
    pub(crate) id: String,
    pub(crate) old: String,
    pub(crate) new: String,
}

/// The rewrites of one row read by [`stale_select`] (`values` in the encrypted fields' order).
pub(crate) fn rewrites(
    keys: &KeyRing,
    collection: &Collection,
    id: &str,
    values: Vec<Option<String>>,
) -> Result<Vec<Rewrite>, StoreError> {
    let prefix = current_prefix(keys.writing_key());
    let mut out = Vec::new();
    for (field, value) in collection.fields.iter().filter(|f| f.encrypted).zip(values) {
        // Values already under the writing key, and plaintext (which `keys status` reports and
        // the migration of the field, not rotation, owns), stay as they are.
        let Some(old) =
            value.filter(|v| v.starts_with(CIPHERTEXT_PREFIX) && !v.starts_with(&prefix))
        else {
            continue;
        };
        let plain = keys
            .open(&collection.name, &field.name, id, &old)
            .map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Unreadable {
                        record: format!("{}/{id}", collection.name),
                    },
                    format!("rotating {}.{} of {id}: {e}", collection.name, field.name),
                )
            })?;
        let new = keys
            .seal(&collection.name, &field.name, id, &plain)
            .map_err(|e| StoreError::internal(format!("sealing during rotation: {e}")))?;
        out.push(Rewrite {
            field: field.name.clone(),
            id: id.to_owned(),
            old,
            new,
        });
    }
    Ok(out)
}
