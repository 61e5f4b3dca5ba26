//! Field selection (`fields=name,price,category.name`): which fields each returned record keeps.
//! `id` is always kept. A dotted name selects fields of a related record and expands that
//! relation if `expand` did not already (as PostgREST's `select=category(name)` embeds it).

use std::collections::BTreeMap;

use fathom_schema::{Collection, Schema, TENANT_FIELD};
use serde_json::{Map, Value as Json};

use super::expand::ExpandNode;
use super::params::invalid;
use crate::error::ApiError;

/// The fields to keep, at the top level and per expanded relation.
#[derive(Debug, Clone, Default)]
pub struct FieldSelection {
    top: Vec<String>,
    nested: BTreeMap<String, Vec<String>>,
}

/// Every name `fields` accepts for a record of `collection`, in the order records carry them:
/// the system fields (`tenant` on tenant-scoped collections), then the schema's fields. The
/// OpenAPI document lists the same names.
pub(crate) fn known_columns(collection: &Collection) -> Vec<String> {
    let mut known: Vec<String> = vec!["id".into()];
    if collection.timestamps {
        known.extend(["created_at".into(), "updated_at".into()]);
    }
    known.push("version".into());
    if collection.tenant_scoped {
        known.push(TENANT_FIELD.into());
    }
    known.extend(collection.fields.iter().map(|f| f.name.clone()));
    known
}

/// The relations `fields` selects inside (`customer` of `customer.name`) that `expand` does not
/// name, so the caller can expand them before parsing the selection.
pub fn implied_expansions(text: &str, expand: &[ExpandNode]) -> Vec<String> {
    let mut implied: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if let Some((relation, _)) = item.split_once('.')
            && !expand.iter().any(|n| n.name == relation)
            && !implied.iter().any(|r| r == relation)
        {
            implied.push(relation.to_owned());
        }
    }
    implied
}

impl FieldSelection {
    pub fn parse(
        text: &str,
        _schema: &Schema,
        collection: &Collection,
        expand: &[ExpandNode],
    ) -> Result<Self, ApiError> {
        let mut selection = Self::default();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(invalid(
                    "fields",
                    "`fields` lists an empty name.".into(),
                    "List field names separated by commas, e.g. `fields=id,title`; leave the parameter out for every field.".into(),
                ));
            }
            match item.split_once('.') {
                None => {
                    if !known_columns(collection).iter().any(|c| c == item) {
                        let shown: String = item.chars().take(64).collect();
                        return Err(invalid(
                            "fields",
                            format!("`{}` has no field `{shown}`.", collection.name),
                            format!("Its fields are: {}.", known_columns(collection).join(", ")),
                        ));
                    }
                    selection.top.push(item.to_owned());
                }
                Some((relation, field)) => {
                    let Some(node) = expand.iter().find(|n| n.name == relation) else {
                        return Err(invalid(
                            "fields",
                            format!("`{item}` selects inside `{relation}`, which is not expanded."),
                            format!("Add `expand={relation}`."),
                        ));
                    };
                    let target = match &node.relation {
                        super::expand::Relation::ToOne { target, .. } => target,
                        super::expand::Relation::ToMany { source, .. } => source,
                        super::expand::Relation::Account { view, .. } => view,
                    };
                    if !known_columns(target).iter().any(|c| c == field) {
                        return Err(invalid(
                            "fields",
                            format!("`{}` has no field `{field}`.", target.name),
                            format!("Its fields are: {}.", known_columns(target).join(", ")),
                        ));
                    }
                    selection
                        .nested
                        .entry(relation.to_owned())
                        .or_default()
                        .push(field.to_owned());
                }
            }
        }
        Ok(selection)
    }

    /// Drops every unselected field of `record` (and of its expanded relations).
    pub fn apply(&self, record: &mut Map<String, Json>) {
        if !self.top.is_empty() {
            record.retain(|key, _| {
                key == "id" || key == "expand" || self.top.iter().any(|f| f == key)
            });
        }
        let Some(Json::Object(expanded)) = record.get_mut("expand") else {
            return;
        };
        for (relation, fields) in &self.nested {
            let keep = |object: &mut Map<String, Json>| {
                object.retain(|key, _| {
                    key == "id" || key == "expand" || fields.iter().any(|f| f == key)
                })
            };
            match expanded.get_mut(relation) {
                Some(Json::Object(object)) => keep(object),
                Some(Json::Array(items)) => items
                    .iter_mut()
                    .filter_map(Json::as_object_mut)
                    .for_each(keep),
                _ => {}
            }
        }
    }
}
