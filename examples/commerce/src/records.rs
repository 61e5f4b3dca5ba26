//! Reading records for the hooks and the flow: a record's fields as JSON, lists by one field's
//! value (a cart's lines, an order's reservations), and money as exact decimals.

use std::collections::BTreeSet;

use fathom_engine::filters::column_in;
use fathom_engine::{Engine, EngineError};
use fathom_store::{ListQuery, Record, Scope};
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

/// More lines than a cart may hold (and reservations than an order may have): a list is read
/// whole in one page.
const PAGE: u32 = 1_000;

/// A record as JSON, with typed accessors for the fields the example reads.
pub struct Fields(pub Map<String, Json>);

impl Fields {
    pub fn of(record: &Record) -> Self {
        Self(record.to_json())
    }

    pub fn text(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Json::as_str)
    }

    pub fn uuid(&self, field: &str) -> Option<Uuid> {
        self.text(field).and_then(|s| Uuid::parse_str(s).ok())
    }

    pub fn integer(&self, field: &str) -> Option<i64> {
        self.0.get(field).and_then(Json::as_i64)
    }

    pub fn boolean(&self, field: &str) -> Option<bool> {
        self.0.get(field).and_then(Json::as_bool)
    }

    /// A decimal field, whether the store renders it as a string or a number.
    pub fn decimal(&self, field: &str) -> Option<Decimal> {
        match self.0.get(field)? {
            Json::String(s) => s.parse().ok(),
            Json::Number(n) => n.to_string().parse().ok(),
            _ => None,
        }
    }
}

/// The records of `collection` in `scope` whose `field` equals `value`, oldest first.
pub async fn list_by(
    engine: &Engine,
    scope: &Scope,
    collection: &str,
    field: &str,
    value: Uuid,
) -> Result<Vec<Record>, EngineError> {
    let target = engine.collection(collection)?;
    let values = BTreeSet::from([value.hyphenated().to_string()]);
    let filter = column_in(engine.schema(), &target, field, &values)?;
    let query = ListQuery {
        filter: Some(filter),
        ..ListQuery::first(PAGE)
    };
    Ok(engine.store().list(scope, target, query).await?)
}

/// An amount in cents, for the provider (which never sees fractions of a cent).
pub fn cents(amount: Decimal) -> Option<i64> {
    let cents = (amount * Decimal::ONE_HUNDRED).round();
    i64::try_from(cents).ok()
}

/// A JSON object from `(field, value)` pairs.
pub fn object<const N: usize>(pairs: [(&str, Json); N]) -> Map<String, Json> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_exact() {
        let price: Decimal = "19.99".parse().unwrap_or_default();
        assert_eq!(cents(price * Decimal::from(3)), Some(5997));
        assert_eq!(cents(Decimal::ZERO), Some(0));
    }
}
