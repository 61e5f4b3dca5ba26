//! Where encryption happens: at the [`Store`](crate::Store)'s own boundary, between validated
//! values and SQL. Every write's values for encrypted fields are sealed (and their blind index
//! computed) before either backend sees them, every record read is opened before it leaves the
//! store, and every filter comparing an encrypted field is blinded before it is compiled. So
//! every door (REST, batch, realtime snapshots, the demo's seed, the CLI) is covered by the same
//! few lines, the backends and the outbox only ever hold ciphertext, and a reader gets plaintext
//! only through [`crate::Store::reveal_event`] or a record read.

use fathom_query::Filter;
use fathom_schema::{Collection, Field, FieldType, Value};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::crypto::{CIPHERTEXT_PREFIX, CryptoError, KeyRing};
use crate::error::{StoreError, StoreErrorKind};
use crate::record::{ListQuery, Record, UnitOfWork, WriteOp, WriteResult};

fn unavailable(collection: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::EncryptionUnavailable,
        format!("collection {collection} has encrypted fields and the store has no key ring"),
    )
}

fn crypto_failure(error: &CryptoError) -> StoreError {
    match error {
        CryptoError::NoBlindKey => StoreError::new(
            StoreErrorKind::EncryptionUnavailable,
            "the key ring has no blind-index key",
        ),
        other => StoreError::internal(format!("encrypting a value: {other}")),
    }
}

fn unreadable(collection: &str, record: Uuid, field: &str, error: &CryptoError) -> StoreError {
    let record = record.hyphenated().to_string();
    StoreError::new(
        StoreErrorKind::Unreadable {
            record: format!("{collection}/{record}"),
        },
        format!("field {collection}.{field} of record {record}: {error}"),
    )
}

/// The ring, or why an encrypted collection cannot be used without one.
fn ring_for<'a>(
    ring: Option<&'a KeyRing>,
    collection: &Collection,
) -> Result<Option<&'a KeyRing>, StoreError> {
    if !collection.has_encrypted_fields() {
        return Ok(None);
    }
    ring.map(Some).ok_or_else(|| unavailable(&collection.name))
}

/// Seals the values of encrypted fields in `values`, for record `id`: each becomes its
/// ciphertext, and a blind-indexed one adds its HMAC column (null with a null value).
fn seal_values(
    ring: &KeyRing,
    collection: &Collection,
    id: Uuid,
    values: &mut Vec<(String, Value)>,
) -> Result<(), StoreError> {
    let record = id.hyphenated().to_string();
    let mut blind = Vec::new();
    for (name, value) in values.iter_mut() {
        let Some(field) = collection.field(name).filter(|f| f.encrypted) else {
            continue;
        };
        let digest = match value {
            Value::Text(plain) => {
                let digest = if field.blind_index {
                    Value::Text(
                        ring.blind(&collection.name, name, plain)
                            .map_err(|e| crypto_failure(&e))?,
                    )
                } else {
                    Value::Null
                };
                *value = Value::Text(
                    ring.seal(&collection.name, name, &record, plain)
                        .map_err(|e| crypto_failure(&e))?,
                );
                digest
            }
            _ => Value::Null,
        };
        if field.blind_index {
            blind.push((field.blind_column(), digest));
        }
    }
    values.extend(blind);
    Ok(())
}

/// Blinds a filter's comparisons on encrypted fields (see [`Filter::blind`]).
pub(crate) fn blind_filter(ring: Option<&KeyRing>, filter: &mut Filter) -> Result<(), StoreError> {
    if !filter.needs_blinding() {
        return Ok(());
    }
    let ring = ring.ok_or_else(|| unavailable("a filtered collection"))?;
    filter.blind(&|collection, field, value| {
        ring.blind(collection, field, value)
            .map_err(|e| crypto_failure(&e))
    })
}

/// A list query ready for SQL.
pub(crate) fn blind_list(ring: Option<&KeyRing>, query: &mut ListQuery) -> Result<(), StoreError> {
    match &mut query.filter {
        Some(filter) => blind_filter(ring, filter),
        None => Ok(()),
    }
}

/// A unit of work as the backends must write it: encrypted values sealed (a create of an
/// encrypted collection gets its id here, as the ciphertext is bound to it), guards blinded.
pub(crate) fn seal_unit(
    ring: Option<&KeyRing>,
    mut work: UnitOfWork,
) -> Result<UnitOfWork, StoreError> {
    for (index, op) in work.ops.iter_mut().enumerate() {
        let at = |e: StoreError| e.at_operation(index);
        match op {
            WriteOp::Create {
                id,
                collection,
                values,
                ..
            } => {
                if let Some(ring) = ring_for(ring, collection).map_err(at)? {
                    let record = *id.get_or_insert_with(Uuid::now_v7);
                    seal_values(ring, collection, record, values).map_err(at)?;
                }
            }
            WriteOp::Update {
                collection,
                id,
                values,
                guard,
                ..
            } => {
                if let Some(ring) = ring_for(ring, collection).map_err(at)? {
                    seal_values(ring, collection, *id, values).map_err(at)?;
                }
                if let Some(guard) = guard {
                    blind_filter(ring, guard).map_err(at)?;
                }
            }
            WriteOp::Delete { guard, .. } | WriteOp::Restore { guard, .. } => {
                if let Some(guard) = guard {
                    blind_filter(ring, guard).map_err(at)?;
                }
            }
            WriteOp::Purge { .. } => {}
        }
    }
    Ok(work)
}

/// What a stored text value of `field` reads as. An encrypted field may still hold the
/// plaintext it had before it was encrypted (until `fathom migrate apply` has converted it),
/// which is its value. A field that is no longer encrypted may still hold a ciphertext (until
/// the conversion has opened it): when it opens in its place, its plaintext is the value; when
/// it does not, it is text a client wrote, served as it is (a forged value cannot open, as the
/// associated data binds collection, field and record).
fn read_value(
    ring: Option<&KeyRing>,
    collection: &Collection,
    record: Uuid,
    field: &Field,
    stored: &str,
) -> Result<Option<String>, StoreError> {
    if !stored.starts_with(CIPHERTEXT_PREFIX) {
        return Ok(None);
    }
    let text_id = record.hyphenated().to_string();
    if field.encrypted {
        let ring = ring.ok_or_else(|| {
            unreadable(
                &collection.name,
                record,
                &field.name,
                &CryptoError::UnknownKey("(no key ring)".into()),
            )
        })?;
        return ring
            .open(&collection.name, &field.name, &text_id, stored)
            .map(Some)
            .map_err(|e| unreadable(&collection.name, record, &field.name, &e));
    }
    let encryptable = matches!(
        field.kind,
        FieldType::Text | FieldType::Email | FieldType::Url
    );
    Ok(ring.filter(|_| encryptable).and_then(|ring| {
        ring.open(&collection.name, &field.name, &text_id, stored)
            .ok()
    }))
}

/// Whether a record of `collection` may hold a stored value to open: it has encrypted fields,
/// or a key ring is configured and a field turned off may still hold ciphertexts.
fn may_hold_ciphertext(ring: Option<&KeyRing>, collection: &Collection) -> bool {
    collection.has_encrypted_fields() || ring.is_some()
}

/// Decrypts the encrypted fields of a record read from the database.
pub(crate) fn open_record(
    ring: Option<&KeyRing>,
    collection: &Collection,
    record: &mut Record,
) -> Result<(), StoreError> {
    if !may_hold_ciphertext(ring, collection) {
        return Ok(());
    }
    let id = record.id;
    for (name, value) in &mut record.values {
        let Some(field) = collection.field(name) else {
            continue;
        };
        if let Value::Text(stored) = value
            && let Some(plain) = read_value(ring, collection, id, field, stored)?
        {
            *value = Value::Text(plain);
        }
    }
    Ok(())
}

/// Decrypts the records a unit of work returns.
pub(crate) fn open_results(
    ring: Option<&KeyRing>,
    work_collections: &[&Collection],
    results: &mut [WriteResult],
) -> Result<(), StoreError> {
    for (result, collection) in results.iter_mut().zip(work_collections) {
        if let WriteResult::Created(record) | WriteResult::Updated(record) = result {
            open_record(ring, collection, record)?;
        }
    }
    Ok(())
}

/// Decrypts the encrypted fields of a record in its JSON form (an outbox event's copy).
pub(crate) fn open_json(
    ring: Option<&KeyRing>,
    collection: &Collection,
    record_id: Uuid,
    record: &mut Map<String, Json>,
) -> Result<(), StoreError> {
    if !may_hold_ciphertext(ring, collection) {
        return Ok(());
    }
    for field in &collection.fields {
        if let Some(Json::String(stored)) = record.get_mut(&field.name)
            && let Some(plain) = read_value(ring, collection, record_id, field, stored)?
        {
            *stored = plain;
        }
    }
    Ok(())
}
