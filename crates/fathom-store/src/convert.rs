//! Bringing stored values to the form the schema asks for, one batch per transaction, while the
//! server serves: re-encryption under the key ring's writing key (`fathom keys rotate-data`),
//! and the conversion of a field whose `encrypted` or `blind_index` flag changed with data in
//! it (`fathom migrate apply`, after the schema change commits).
//!
//! The target form of a collection's values: every field the schema encrypts holds a ciphertext
//! under the writing key (plaintext left from before the field was encrypted is sealed) and,
//! with a blind index, its HMAC; every field that was encrypted once and no longer is (the
//! `decrypting` fields, found in the migration history) holds plaintext. A batch reads up to N
//! records of one collection not yet in that form ([`stale_select`]; the same condition counts
//! what remains, [`remaining_sql`]), locked for the batch (SQLite's single writer, `FOR UPDATE`
//! on PostgreSQL, so a concurrent update either lands before and is already in the target form,
//! or waits and lands after), and rewrites each value in place, guarded by the value it read.
//! The plaintext does not change, so the record keeps its version and no event is written.
//! Every batch commits on its own: an interrupted conversion resumes by running again.

use fathom_query::Dialect;
use fathom_schema::{Collection, Field};

use crate::crypto::{CIPHERTEXT_PREFIX, CryptoError, KeyRing};
use crate::error::{StoreError, StoreErrorKind};

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The prefix of values already under `key`.
pub(crate) fn current_prefix(key: &str) -> String {
    format!("{CIPHERTEXT_PREFIX}{key}:")
}

/// One collection's conversion: which fields are sealed and which opened.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub collection: std::sync::Arc<Collection>,
    /// Fields of the collection that were encrypted in an earlier migration and no longer are:
    /// ciphertexts still stored in them are decrypted.
    pub decrypting: Vec<String>,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    /// Records the batch read (0: nothing left after `after`).
    pub records: usize,
    /// Values rewritten.
    pub rewritten: usize,
    /// Values of a decrypting field that look like ciphertexts but do not open here (text a
    /// client wrote after the field was turned off, or a damaged value): left as they are.
    pub unopened: usize,
    /// The last record id the batch read: where the next batch starts.
    pub last: Option<String>,
}

/// What one batch of the outbox's pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvertedEvents {
    /// Events the batch read (0: the pass is over).
    pub events: usize,
    /// Record copies rewritten.
    pub rewritten: usize,
    /// The last sequence read: where the next batch starts.
    pub last: i64,
}

impl Conversion {
    /// The fields sealed in the target form.
    fn sealed(&self) -> impl Iterator<Item = &Field> {
        self.collection.fields.iter().filter(|f| f.encrypted)
    }

    fn opened(&self) -> impl Iterator<Item = &Field> {
        self.collection
            .fields
            .iter()
            .filter(|f| !f.encrypted && self.decrypting.contains(&f.name))
    }

    /// The stored columns a batch reads after the id, in order: each sealed field's value (and
    /// its HMAC column when it has a blind index), then each opened field's value.
    fn columns(&self) -> Vec<String> {
        let mut columns = Vec::new();
        for field in self.sealed() {
            columns.push(ident(&field.name));
            if field.blind_index {
                columns.push(ident(&field.blind_column()));
            }
        }
        columns.extend(self.opened().map(|f| ident(&f.name)));
        columns
    }

    /// Whether there is anything to look at.
    pub fn is_empty(&self) -> bool {
        self.sealed().next().is_none() && self.opened().next().is_none()
    }

    /// "records not yet in the target form", binding the writing key's prefix (`?1` / `$1`).
    fn stale_condition(&self, dialect: Dialect) -> String {
        let (prefix, len) = match dialect {
            Dialect::Sqlite => ("?1", "length(?1)"),
            Dialect::Postgres => ("$1::text", "length($1::text)"),
        };
        let mut stale = Vec::new();
        for field in self.sealed() {
            let f = ident(&field.name);
            // Plaintext, or a ciphertext under another key.
            stale.push(format!(
                "({f} IS NOT NULL AND substr({f}, 1, {len}) <> {prefix})"
            ));
            if field.blind_index {
                stale.push(format!(
                    "({f} IS NOT NULL AND {} IS NULL)",
                    ident(&field.blind_column())
                ));
            }
        }
        for field in self.opened() {
            let f = ident(&field.name);
            stale.push(format!("substr({f}, 1, 4) = '{CIPHERTEXT_PREFIX}'"));
        }
        if stale.is_empty() {
            stale.push("1 = 0".into());
        }
        // The prefix is named even when no field is sealed, so every statement binds the same
        // parameters.
        format!("{prefix} IS NOT NULL AND ({})", stale.join(" OR "))
    }
}

/// `SELECT id, <columns> ... WHERE <not in the target form> AND id > <after> ORDER BY id LIMIT
/// n`, binding the writing key's prefix (`?1` / `$1`) and the id to start after (`?2` / `$2`,
/// null for the start). Starting after the previous batch's last id, a pass never reads a
/// value it left as it is twice.
pub(crate) fn stale_select(dialect: Dialect, conversion: &Conversion, limit: u32) -> String {
    let (after, lock) = match dialect {
        Dialect::Sqlite => ("(?2 IS NULL OR \"id\" > ?2)", ""),
        Dialect::Postgres => (
            "($2::text IS NULL OR \"id\" > ($2::text)::uuid)",
            " FOR UPDATE",
        ),
    };
    format!(
        "SELECT CAST(\"id\" AS TEXT), {} FROM {} WHERE ({}) AND {after} ORDER BY \"id\" LIMIT {limit}{lock}",
        conversion.columns().join(", "),
        ident(&conversion.collection.name),
        conversion.stale_condition(dialect)
    )
}

/// `SELECT COUNT(*) ... WHERE <not in the target form>`, binding the prefix as [`stale_select`].
pub(crate) fn remaining_sql(dialect: Dialect, conversion: &Conversion) -> String {
    format!(
        "SELECT COUNT(*) FROM {} WHERE {}",
        ident(&conversion.collection.name),
        conversion.stale_condition(dialect)
    )
}

/// `UPDATE <collection> SET <field> = ?1 [, <field>__bidx = ?4] WHERE id = ?2 AND <field> = ?3`.
pub(crate) fn update_sql(dialect: Dialect, collection: &Collection, rewrite: &Rewrite) -> String {
    let (new, id, old, blind) = match dialect {
        Dialect::Sqlite => ("?1", "?2", "?3", "?4"),
        Dialect::Postgres => ("$1::text", "($2::text)::uuid", "$3::text", "$4::text"),
    };
    let field = collection
        .field(&rewrite.field)
        .map(Field::blind_column)
        .filter(|_| rewrite.blind.is_some());
    let blind = field
        .map(|column| format!(", {} = {blind}", ident(&column)))
        .unwrap_or_default();
    format!(
        "UPDATE {} SET {f} = {new}{blind} WHERE \"id\" = {id} AND {f} = {old}",
        ident(&collection.name),
        f = ident(&rewrite.field)
    )
}

/// One value to rewrite: field, record id, the stored value, its replacement and, for a
/// blind-indexed field, its HMAC.
pub(crate) struct Rewrite {
    pub(crate) field: String,
    pub(crate) id: String,
    pub(crate) old: String,
    pub(crate) new: String,
    pub(crate) blind: Option<String>,
}

impl Rewrite {
    /// The parameters of [`update_sql`], in order.
    pub(crate) fn params(&self) -> Vec<&String> {
        let mut params = vec![&self.new, &self.id, &self.old];
        params.extend(self.blind.as_ref());
        params
    }
}

fn unreadable(collection: &str, field: &str, id: &str, error: &CryptoError) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unreadable {
            record: format!("{collection}/{id}"),
        },
        format!("converting {collection}.{field} of {id}: {error}"),
    )
}

fn sealing_failed(error: &CryptoError) -> StoreError {
    match error {
        CryptoError::NoBlindKey => StoreError::new(
            StoreErrorKind::EncryptionUnavailable,
            "the key ring has no blind-index key",
        ),
        other => StoreError::internal(format!("sealing during a conversion: {other}")),
    }
}

/// The rewrites of one row read by [`stale_select`] (`values` in [`Conversion::columns`]'
/// order), and how many values of decrypting fields did not open.
pub(crate) fn rewrites(
    keys: &KeyRing,
    conversion: &Conversion,
    id: &str,
    values: Vec<Option<String>>,
) -> Result<(Vec<Rewrite>, usize), StoreError> {
    let collection = &conversion.collection.name;
    let prefix = current_prefix(keys.writing_key());
    let mut values = values.into_iter();
    let mut out = Vec::new();
    for field in conversion.sealed() {
        let stored = values.next().flatten();
        let digest = if field.blind_index {
            values.next().flatten()
        } else {
            None
        };
        let Some(old) = stored else { continue };
        let current = old.starts_with(&prefix);
        if current && (!field.blind_index || digest.is_some()) {
            continue;
        }
        // Plaintext left from before the field was encrypted is its own value.
        let plain = if old.starts_with(CIPHERTEXT_PREFIX) {
            keys.open(collection, &field.name, id, &old)
                .map_err(|e| unreadable(collection, &field.name, id, &e))?
        } else {
            old.clone()
        };
        let new = if current {
            old.clone()
        } else {
            keys.seal(collection, &field.name, id, &plain)
                .map_err(|e| sealing_failed(&e))?
        };
        let blind = if field.blind_index {
            Some(
                keys.blind(collection, &field.name, &plain)
                    .map_err(|e| sealing_failed(&e))?,
            )
        } else {
            None
        };
        out.push(Rewrite {
            field: field.name.clone(),
            id: id.to_owned(),
            old,
            new,
            blind,
        });
    }
    let mut unopened = 0;
    for field in conversion.opened() {
        let Some(old) = values.next().flatten() else {
            continue;
        };
        if !old.starts_with(CIPHERTEXT_PREFIX) {
            continue;
        }
        match keys.open(collection, &field.name, id, &old) {
            Ok(plain) => out.push(Rewrite {
                field: field.name.clone(),
                id: id.to_owned(),
                old,
                new: plain,
                blind: None,
            }),
            Err(_) => unopened += 1,
        }
    }
    Ok((out, unopened))
}

/// The outbox's copies of a collection's records, from sequence `?2` on, `?1` naming the
/// collection: an event written before a field was encrypted holds its plaintext, and one
/// written before it was turned off its ciphertext. A pass reads them in sequence order and
/// rewrites the copies that are not in the target form, so that no plaintext of a field now
/// encrypted outlives its conversion in the outbox.
pub(crate) fn events_select(dialect: Dialect, limit: u32) -> String {
    let (collection, after, lock) = match dialect {
        Dialect::Sqlite => ("?1", "?2", ""),
        Dialect::Postgres => ("$1::text", "$2::bigint", " FOR UPDATE"),
    };
    format!(
        "SELECT \"seq\", \"record_id\", \"record\" FROM \"_fathom_events\" WHERE \"collection\" = {collection} AND \"seq\" > {after} AND \"record\" IS NOT NULL ORDER BY \"seq\" LIMIT {limit}{lock}"
    )
}

/// `UPDATE _fathom_events SET record = ?1 WHERE seq = ?2 AND record = ?3`.
pub(crate) fn event_update(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => {
            "UPDATE \"_fathom_events\" SET \"record\" = ?1 WHERE \"seq\" = ?2 AND \"record\" = ?3"
        }
        Dialect::Postgres => {
            "UPDATE \"_fathom_events\" SET \"record\" = $1::text WHERE \"seq\" = ($2::text)::bigint AND \"record\" = $3::text"
        }
    }
}

/// An event's record copy in the target form, or `None` when it already is (or is not an
/// object): sealed fields' plaintext sealed in the record's place, decrypting fields'
/// ciphertexts opened when they open.
pub(crate) fn convert_event(
    keys: &KeyRing,
    conversion: &Conversion,
    record_id: &str,
    stored: &str,
) -> Result<Option<String>, StoreError> {
    let Ok(serde_json::Value::Object(mut record)) = serde_json::from_str(stored) else {
        return Ok(None);
    };
    let collection = &conversion.collection.name;
    let mut changed = false;
    for field in conversion.sealed() {
        if let Some(serde_json::Value::String(value)) = record.get_mut(&field.name)
            && !value.starts_with(CIPHERTEXT_PREFIX)
        {
            *value = keys
                .seal(collection, &field.name, record_id, value)
                .map_err(|e| sealing_failed(&e))?;
            changed = true;
        }
    }
    for field in conversion.opened() {
        if let Some(serde_json::Value::String(value)) = record.get_mut(&field.name)
            && value.starts_with(CIPHERTEXT_PREFIX)
            && let Ok(plain) = keys.open(collection, &field.name, record_id, value)
        {
            *value = plain;
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    serde_json::to_string(&record)
        .map(Some)
        .map_err(|e| StoreError::internal(format!("writing an event's record: {e}")))
}

#[cfg(test)]
mod tests;
