//! References between the operations of one batch, so that related records can be created
//! together: a create names itself with `"ref": "order1"`, and a later operation writes
//! `"$ref:order1"` where a record id goes (a relation field of its body, or its own `id`). The
//! server gives each referenced create its id before anything is stored, so a reference is just
//! that id, and the whole batch still commits as one transaction.

use std::borrow::Cow;
use std::collections::HashMap;

use fathom_schema::{Collection, FieldType, Schema};
use fathom_store::Scope;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::super::tenancy::Pending;
use super::shape_error;
use crate::error::ApiError;

/// What marks a string as a reference.
pub const PREFIX: &str = "$ref:";

/// The longest reference name.
const MAX_NAME: usize = 64;

/// The records the operations so far create.
#[derive(Default)]
pub struct Created {
    /// Reference name to (id, collection).
    named: HashMap<String, (Uuid, String)>,
    /// Every id a create of this batch takes, with the scope it is created in.
    pub pending: Pending,
}

impl Created {
    /// The reference name operation `index` gives itself, checked: 1 to 64 letters, digits, `_`
    /// or `-`, not used before in the batch.
    pub fn new_name(&self, index: usize, raw: Option<&Value>) -> Result<Option<String>, ApiError> {
        let Some(raw) = raw else { return Ok(None) };
        let field = format!("operations[{index}].ref");
        let name = raw
            .as_str()
            .filter(|n| {
                (1..=MAX_NAME).contains(&n.len())
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            })
            .ok_or_else(|| {
                shape_error(
                    &field,
                    format!("Operation {index} has an invalid `ref`."),
                    "A ref is a name of 1 to 64 letters, digits, `_` or `-`, such as \"order1\".",
                )
            })?;
        if self.named.contains_key(name) {
            return Err(shape_error(
                &field,
                format!("Operation {index} reuses the ref `{name}` of an earlier operation."),
                "Give each create of the batch its own ref.",
            ));
        }
        Ok(Some(name.to_owned()))
    }

    /// Notes a create of this batch, under its reference name if it has one.
    pub fn add(&mut self, name: Option<String>, id: Uuid, collection: &str, scope: Scope) {
        if let Some(name) = name {
            self.named.insert(name, (id, collection.to_owned()));
        }
        self.pending.insert(id, scope);
    }

    /// The id `text` names, if it is a reference: `Some(Ok(id))` for a known reference whose
    /// record belongs to `expected` (when given), `Some(Err(..))` for a bad one, `None` for any
    /// other text.
    fn resolve(
        &self,
        field: &str,
        text: &str,
        expected: Option<&str>,
    ) -> Option<Result<Uuid, ApiError>> {
        let name = text.strip_prefix(PREFIX)?;
        let shown: String = name.chars().take(MAX_NAME).collect();
        Some(match self.named.get(name) {
            None => Err(ApiError::new(
                fathom_core::ErrorCode::ValidationFailed,
                format!("`{field}` refers to `{PREFIX}{shown}`, which no earlier operation of the batch names."),
                "Put the create with that `ref` before the operations that refer to it.",
            )
            .with_field(field, "unknown_ref", "No earlier operation has this ref.")),
            Some((_, collection)) if expected.is_some_and(|e| e != collection) => {
                Err(ApiError::new(
                    fathom_core::ErrorCode::ValidationFailed,
                    format!(
                        "`{field}` refers to `{PREFIX}{shown}`, a record of `{collection}`, but needs a record of `{}`.",
                        expected.unwrap_or_default()
                    ),
                    "Refer to a create of the collection the field relates to.",
                )
                .with_field(field, "wrong_collection", "The ref names a record of another collection."))
            }
            Some((id, _)) => Ok(*id),
        })
    }

    /// The record id of operation `index`: a UUID, or a reference to a record of `collection`
    /// created earlier in the batch.
    pub fn record_id(
        &self,
        index: usize,
        raw: Option<&Value>,
        collection: &Collection,
    ) -> Result<Uuid, ApiError> {
        let field = format!("operations[{index}].id");
        let text = raw.and_then(Value::as_str);
        if let Some(resolved) = text.and_then(|t| self.resolve(&field, t, Some(&collection.name))) {
            return resolved;
        }
        text.and_then(|t| Uuid::parse_str(t).ok()).ok_or_else(|| {
            shape_error(
                &field,
                format!("Operation {index} needs the `id` of a record."),
                "Record ids are UUIDs, as returned in `id`, or `$ref:<name>` for a record created earlier in the batch.",
            )
        })
    }

    /// `body` with every reference in a relation field replaced by the id it names. Borrowed
    /// unchanged when it has none (the common case costs no copy).
    pub fn substitute<'b>(
        &self,
        index: usize,
        schema: &Schema,
        collection: &Collection,
        body: &'b Map<String, Value>,
    ) -> Result<Cow<'b, Map<String, Value>>, ApiError> {
        let mut body = Cow::Borrowed(body);
        let references: Vec<(String, String)> = body
            .iter()
            .filter_map(|(name, value)| {
                let text = value.as_str().filter(|t| t.starts_with(PREFIX))?;
                Some((name.clone(), text.to_owned()))
            })
            .collect();
        for (name, text) in references {
            // Only relation fields take references; in any other field the text is a value.
            let Some(FieldType::Relation {
                collection: target, ..
            }) = collection.field(&name).map(|f| &f.kind)
            else {
                continue;
            };
            let expected = schema.collection(target).map(|t| t.name.as_str());
            if let Some(resolved) = self.resolve(&name, &text, expected) {
                let id = resolved.map_err(|e| e.for_operation(index))?;
                body.to_mut()
                    .insert(name, Value::String(id.hyphenated().to_string()));
            }
        }
        Ok(body)
    }
}
