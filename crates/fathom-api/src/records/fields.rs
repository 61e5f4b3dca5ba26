//! Field selection (`fields=name,price,category.name`): which fields each returned record keeps.
//! `id` is always kept. A dotted name selects fields of an expanded relation.

use std::collections::BTreeMap;

use fathom_schema::{Collection, Schema};
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

fn known_columns(collection: &Collection) -> Vec<String> {
    let mut known: Vec<String> = vec!["id".into(), "version".into()];
    if collection.timestamps {
        known.extend(["created_at".into(), "updated_at".into()]);
    }
    known.extend(collection.fields.iter().map(|f| f.name.clone()));
    known
}

impl FieldSelection {
    pub fn parse(
        text: &str,
        _schema: &Schema,
        collection: &Collection,
        expand: &[ExpandNode],
    ) -> Result<Self, ApiError> {
        let mut selection = Self::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
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
