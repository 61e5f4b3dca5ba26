//! Declared renames against the applied schema: which still have to run, and how the applied
//! schema looks once they have, so that the rest of the diff compares like with like.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{Collection, Field, FieldType, Index, Schema};

/// The renames declared in the desired schema that the applied one has yet to undergo: a
/// rename counts only while the applied schema has the old name and not the new one, so the
/// `renamed_from` key can stay in the file once the rename is applied.
#[derive(Debug, Default)]
pub struct Renaming {
    /// New collection name → applied name.
    pub(super) collections: BTreeMap<String, String>,
    /// New collection name → new field name → applied field name.
    pub(super) fields: BTreeMap<String, BTreeMap<String, String>>,
}

impl Renaming {
    pub fn between(applied: &Schema, desired: &Schema) -> Self {
        let mut renaming = Self::default();
        for (to, from) in &desired.renames.collections {
            if applied.collection(from).is_some()
                && applied.collection(to).is_none()
                && desired.collection(from).is_none()
            {
                renaming.collections.insert(to.clone(), from.clone());
            }
        }
        for (collection, fields) in &desired.renames.fields {
            let (Some(old), Some(new)) = (
                applied.collection(renaming.applied_collection(collection)),
                desired.collection(collection),
            ) else {
                continue;
            };
            for (to, from) in fields {
                if old.field(from).is_some() && old.field(to).is_none() && new.field(from).is_none()
                {
                    renaming
                        .fields
                        .entry(collection.clone())
                        .or_default()
                        .insert(to.clone(), from.clone());
                }
            }
        }
        renaming
    }

    /// The applied name of a desired collection (its own name unless it is being renamed).
    pub fn applied_collection<'a>(&'a self, name: &'a str) -> &'a str {
        self.collections.get(name).map_or(name, String::as_str)
    }

    /// The applied name of a desired field of a desired collection.
    pub fn applied_field<'a>(&'a self, collection: &str, field: &'a str) -> &'a str {
        self.fields
            .get(collection)
            .and_then(|f| f.get(field))
            .map_or(field, String::as_str)
    }

    /// The desired name of an applied collection.
    pub(super) fn desired_collection<'a>(&'a self, applied: &'a str) -> &'a str {
        self.collections
            .iter()
            .find(|(_, from)| *from == applied)
            .map_or(applied, |(to, _)| to.as_str())
    }

    pub(super) fn desired_field<'a>(&'a self, collection: &str, applied: &'a str) -> &'a str {
        self.fields
            .get(collection)
            .and_then(|f| f.iter().find(|(_, from)| *from == applied))
            .map_or(applied, |(to, _)| to.as_str())
    }

    /// An applied field under its desired name, pointing at its target's desired name, so that
    /// it compares equal to the desired field when nothing else changed.
    pub(super) fn carried(&self, collection: &str, field: &Field) -> Field {
        let mut field = field.clone();
        field.name = self.desired_field(collection, &field.name).to_owned();
        if let FieldType::Relation {
            collection: target, ..
        } = &mut field.kind
        {
            *target = self.desired_collection(target).to_owned();
        }
        field
    }

    /// An applied collection as it stands once its renames have run: desired names for the
    /// collection, its fields, relation targets and index columns; index names stay those the
    /// database holds until a [`Change::RenameIndex`](super::Change::RenameIndex) runs.
    pub fn carried_collection(&self, old: &Collection) -> Collection {
        let name = self.desired_collection(&old.name).to_owned();
        let fields = old.fields.iter().map(|f| self.carried(&name, f)).collect();
        let indexes = old
            .indexes
            .iter()
            .map(|i| {
                let desired = |fields: &[String]| -> Vec<String> {
                    fields
                        .iter()
                        .map(|f| self.desired_field(&name, f).to_owned())
                        .collect()
                };
                Index {
                    name: i.name.clone(),
                    fields: desired(&i.fields),
                    unique: i.unique,
                    descending: desired(&i.descending),
                }
            })
            .collect();
        Collection {
            name,
            fields,
            indexes,
            ..old.clone()
        }
    }
}

impl Renaming {
    /// The applied schema as it stands once its renames have run (see
    /// [`Renaming::carried_collection`]), keyed by the desired names.
    pub fn carried_schema(&self, applied: &Schema) -> Schema {
        Schema {
            collections: applied
                .collections
                .values()
                .map(|c| {
                    let carried = self.carried_collection(c);
                    (carried.name.clone(), Arc::new(carried))
                })
                .collect(),
            ..applied.clone()
        }
    }
}
