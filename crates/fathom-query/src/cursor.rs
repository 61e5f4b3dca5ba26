//! Keyset cursors: the sort-key values of the last record of a page, signed with HMAC-SHA256 so a
//! client can neither forge nor alter one, and bound to the collection and sort they came from.
//! The next page is everything strictly after those values in the sort order, so records
//! inserted or deleted meanwhile never cause duplicates or skips among the others.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fathom_schema::Value;
use hmac::{Hmac, KeyInit, Mac};
use sea_query::{Expr, ExprTrait};
use serde_json::{Value as Json, json};
use sha2::Sha256;

use crate::check::ValueKind;
use crate::sort::{SortKey, sort_spec};
use crate::sql::{Dialect, column_in, to_sea};

type HmacSha256 = Hmac<Sha256>;

/// The bytes of the signature kept in a cursor (128 bits).
const TAG_BYTES: usize = 16;

/// Why a cursor was refused. The message never says which check failed beyond what helps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is malformed or was altered")]
    Invalid,
    #[error("the cursor belongs to another collection or sort")]
    Mismatch,
}

/// The secret cursors are signed with.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail for 32 bytes.
        <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("hmac takes any key length"))
    }

    /// Encodes the sort-key values of `last` (one per key, in order) for `collection`.
    pub fn encode(&self, collection: &str, keys: &[SortKey], last: &[Value]) -> String {
        let values: Vec<Json> = last.iter().map(value_to_json).collect();
        let payload = json!({ "c": collection, "s": sort_spec(keys), "v": values }).to_string();
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
        )
    }

    /// Verifies and decodes a cursor into the key values it carries.
    pub fn decode(
        &self,
        cursor: &str,
        collection: &str,
        keys: &[SortKey],
    ) -> Result<Vec<Value>, CursorError> {
        let (payload, tag) = cursor.split_once('.').ok_or(CursorError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| CursorError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| CursorError::Invalid)?;
        // `verify_truncated_left` accepts any prefix of the tag: insist on all of it, or a
        // one-byte tag could be guessed in 256 tries.
        if tag.len() != TAG_BYTES {
            return Err(CursorError::Invalid);
        }
        let mut mac = self.mac();
        mac.update(&payload);
        // Constant-time comparison of the tag.
        mac.verify_truncated_left(&tag)
            .map_err(|_| CursorError::Invalid)?;
        let payload: Json = serde_json::from_slice(&payload).map_err(|_| CursorError::Invalid)?;
        if payload["c"] != collection || payload["s"] != sort_spec(keys).as_str() {
            return Err(CursorError::Mismatch);
        }
        let values = payload["v"].as_array().ok_or(CursorError::Invalid)?;
        if values.len() != keys.len() {
            return Err(CursorError::Invalid);
        }
        values
            .iter()
            .zip(keys)
            .map(|(v, k)| json_to_value(v, k.path.kind))
            .collect()
    }
}

fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::Number(n) => Json::from(*n),
        Value::Text(s) => Json::String(s.clone()),
        Value::Json(j) => j.clone(),
    }
}

fn json_to_value(json: &Json, kind: ValueKind) -> Result<Value, CursorError> {
    Ok(match (kind, json) {
        (_, Json::Null) => Value::Null,
        (ValueKind::Bool, Json::Bool(b)) => Value::Bool(*b),
        (ValueKind::Integer, Json::Number(n)) => {
            Value::Integer(n.as_i64().ok_or(CursorError::Invalid)?)
        }
        (ValueKind::Number, Json::Number(n)) => {
            Value::Number(n.as_f64().ok_or(CursorError::Invalid)?)
        }
        (ValueKind::Decimal, Json::String(s)) => Value::Text(s.clone()),
        (
            ValueKind::Text | ValueKind::Timestamp | ValueKind::Date | ValueKind::Uuid,
            Json::String(s),
        ) => Value::Text(s.clone()),
        _ => return Err(CursorError::Invalid),
    })
}

/// The condition "strictly after `values` in the order of `keys`", null-aware (nulls first when
/// ascending, last when descending), as an OR of prefixes:
/// `k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...`. In SQLite's dialect.
pub fn after(base: &str, keys: &[SortKey], values: &[Value]) -> Expr {
    after_in(Dialect::Sqlite, base, keys, values)
}

/// [`after`] for `dialect`.
pub fn after_in(dialect: Dialect, base: &str, keys: &[SortKey], values: &[Value]) -> Expr {
    let comparable = |key: &SortKey, value: &Value| match (key.path.kind, value) {
        (ValueKind::Decimal, Value::Text(t)) => t.parse::<f64>().map_or(Value::Null, Value::Number),
        (_, v) => v.clone(),
    };
    let mut alternatives: Option<Expr> = None;
    let mut prefix: Option<Expr> = None;
    for (key, value) in keys.iter().zip(values) {
        let col = column_in(dialect, base, &key.path);
        let value = comparable(key, value);
        let strictly_after = match (key.descending, &value) {
            (false, Value::Null) => col.clone().is_not_null(),
            (false, v) => col.clone().gt(Expr::val(to_sea(v))),
            (true, Value::Null) => Expr::cust("1 = 0"),
            (true, v) => col
                .clone()
                .lt(Expr::val(to_sea(v)))
                .or(col.clone().is_null()),
        };
        let branch = match &prefix {
            Some(p) => p.clone().and(strictly_after),
            None => strictly_after,
        };
        alternatives = Some(match alternatives {
            Some(a) => a.or(branch),
            None => branch,
        });
        let equal = match &value {
            Value::Null => col.is_null(),
            v => col.eq(Expr::val(to_sea(v))),
        };
        prefix = Some(match prefix {
            Some(p) => p.and(equal),
            None => equal,
        });
    }
    alternatives.unwrap_or_else(|| Expr::cust("1 = 1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::default_sort;

    #[test]
    fn cursors_round_trip_and_reject_tampering_and_other_sorts() {
        let key = CursorKey::new([7; 32]);
        let keys = default_sort();
        let cursor = key.encode("notes", &keys, &[Value::Text("abc".into())]);
        assert_eq!(
            key.decode(&cursor, "notes", &keys),
            Ok(vec![Value::Text("abc".into())])
        );
        assert_eq!(
            key.decode(&cursor, "other", &keys),
            Err(CursorError::Mismatch)
        );
        let mut forged = cursor.clone();
        forged.insert(3, 'x');
        assert_eq!(
            key.decode(&forged, "notes", &keys),
            Err(CursorError::Invalid)
        );
        assert_eq!(
            CursorKey::new([8; 32]).decode(&cursor, "notes", &keys),
            Err(CursorError::Invalid)
        );
        assert_eq!(
            key.decode("garbage", "notes", &keys),
            Err(CursorError::Invalid)
        );
    }
}
