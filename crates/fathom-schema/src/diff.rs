//! The difference between the schema recorded in the database and the schema file, as a list of
//! backend-neutral changes. The store turns each change into SQL for its dialect and judges how
//! safe it is against the live data.

mod renaming;

use std::sync::Arc;

pub use renaming::Renaming;

use crate::model::{Collection, Field, FieldType, Index, Schema};

/// One change from the applied schema to the desired one.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateCollection(Arc<Collection>),
    DropCollection(Arc<Collection>),
    AddField {
        collection: String,
        field: Field,
    },
    DropField {
        collection: String,
        field: Field,
    },
    /// The field's storage changes (type, required, relation target): the column must be rebuilt.
    AlterField {
        collection: String,
        from: Field,
        to: Field,
    },
    /// Only validation changes (constraints, default, enum values): no SQL, but existing records
    /// may no longer satisfy the new rules when they are narrowed.
    RetuneField {
        collection: String,
        from: Field,
        to: Field,
    },
    SetSoftDelete {
        collection: String,
        enabled: bool,
    },
    SetTimestamps {
        collection: String,
        enabled: bool,
    },
    SetTenantScoped {
        collection: String,
        enabled: bool,
    },
    CreateIndex {
        collection: String,
        index: Index,
    },
    DropIndex {
        collection: String,
        index: Index,
    },
    /// A declared rename (`renamed_from`) whose old name the applied schema still has: the
    /// table keeps its records. Comes before every other change of the collection.
    RenameCollection {
        from: String,
        to: String,
    },
    /// A declared field rename: the column keeps its values. `collection` is the new name.
    RenameField {
        collection: String,
        from: String,
        to: String,
    },
    /// An index over the same columns whose derived name changes with a rename.
    RenameIndex {
        collection: String,
        from: String,
        to: Index,
    },
}

impl Change {
    /// The collection this change touches.
    pub fn collection(&self) -> &str {
        match self {
            Self::CreateCollection(c) | Self::DropCollection(c) => &c.name,
            Self::AddField { collection, .. }
            | Self::DropField { collection, .. }
            | Self::AlterField { collection, .. }
            | Self::RetuneField { collection, .. }
            | Self::SetSoftDelete { collection, .. }
            | Self::SetTimestamps { collection, .. }
            | Self::SetTenantScoped { collection, .. }
            | Self::CreateIndex { collection, .. }
            | Self::DropIndex { collection, .. }
            | Self::RenameField { collection, .. }
            | Self::RenameIndex { collection, .. } => collection,
            Self::RenameCollection { to, .. } => to,
        }
    }

    /// A one-line, human description for `migrate plan`.
    pub fn describe(&self) -> String {
        match self {
            Self::CreateCollection(c) => format!("create collection `{}`", c.name),
            Self::DropCollection(c) => format!("drop collection `{}` and all its records", c.name),
            Self::AddField { collection, field } => {
                format!(
                    "add field `{collection}.{}` ({})",
                    field.name,
                    field.kind.name()
                )
            }
            Self::DropField { collection, field } => {
                format!("drop field `{collection}.{}` and its data", field.name)
            }
            Self::AlterField {
                collection,
                from,
                to,
            } => format!(
                "change field `{collection}.{}` from {} to {}",
                to.name,
                storage_summary(from),
                storage_summary(to)
            ),
            Self::RetuneField { collection, to, .. } => {
                format!("change validation rules of `{collection}.{}`", to.name)
            }
            Self::SetSoftDelete {
                collection,
                enabled,
            } => {
                format!("turn soft delete {} for `{collection}`", on_off(*enabled))
            }
            Self::SetTimestamps {
                collection,
                enabled,
            } => {
                format!("turn timestamps {} for `{collection}`", on_off(*enabled))
            }
            Self::SetTenantScoped {
                collection,
                enabled,
            } => {
                format!(
                    "turn tenant scoping {} for `{collection}`",
                    on_off(*enabled)
                )
            }
            Self::CreateIndex { collection, index } => format!(
                "create {}index `{}` on `{collection}` ({})",
                if index.unique { "unique " } else { "" },
                index.name,
                index.declared_keys().join(", ")
            ),
            Self::DropIndex { collection, index } => {
                format!("drop index `{}` on `{collection}`", index.name)
            }
            Self::RenameCollection { from, to } => {
                format!("rename collection `{from}` to `{to}`, keeping its records")
            }
            Self::RenameField {
                collection,
                from,
                to,
            } => format!("rename field `{collection}.{from}` to `{to}`, keeping its values"),
            Self::RenameIndex {
                collection,
                from,
                to,
            } => format!("rename index `{from}` on `{collection}` to `{}`", to.name),
        }
    }

    /// Whether applying the change can only add (never lose or reject existing data).
    pub fn is_additive(&self) -> bool {
        match self {
            Self::CreateCollection(_)
            | Self::CreateIndex {
                index: Index { unique: false, .. },
                ..
            } => true,
            Self::AddField { field, .. } => !field.required || field.default.is_some(),
            Self::SetSoftDelete { enabled, .. } => *enabled,
            Self::RetuneField { from, to, .. } => !narrows(from, to),
            Self::DropIndex { index, .. } => index.unique,
            Self::RenameIndex { .. } => true,
            _ => false,
        }
    }
}

fn on_off(enabled: bool) -> &'static str {
    if enabled { "on" } else { "off" }
}

fn storage_summary(field: &Field) -> String {
    let required = if field.required {
        "required"
    } else {
        "optional"
    };
    match &field.kind {
        FieldType::Relation {
            collection,
            on_delete,
        } => {
            format!("{required} relation to `{collection}` (on delete {on_delete:?})")
        }
        kind if field.blind_index => {
            format!("{required} encrypted {} with a blind index", kind.name())
        }
        kind if field.encrypted => format!("{required} encrypted {}", kind.name()),
        kind => format!("{required} {}", kind.name()),
    }
}

/// Whether the validation rules of `to` may reject values that `from` accepted.
pub fn narrows(from: &Field, to: &Field) -> bool {
    let (a, b) = (&from.constraints, &to.constraints);
    let tighter_lower =
        |old: Option<f64>, new: Option<f64>| new.is_some_and(|n| old.is_none_or(|o| n > o));
    let tighter_upper =
        |old: Option<f64>, new: Option<f64>| new.is_some_and(|n| old.is_none_or(|o| n < o));
    let len = |v: Option<u32>| v.map(f64::from);
    let enum_shrinks = match (&from.kind, &to.kind) {
        (FieldType::Enum { values: old }, FieldType::Enum { values: new }) => {
            old.iter().any(|v| !new.contains(v))
        }
        _ => false,
    };
    tighter_lower(a.min, b.min)
        || tighter_upper(a.max, b.max)
        || tighter_lower(len(a.min_length), len(b.min_length))
        || tighter_upper(len(a.max_length), len(b.max_length))
        || (b.pattern.is_some() && a.pattern != b.pattern)
        || enum_shrinks
}

/// Whether two versions of a field are stored differently (so the column must be rebuilt).
fn storage_differs(from: &Field, to: &Field) -> bool {
    let kind_differs = match (&from.kind, &to.kind) {
        (FieldType::Enum { .. }, FieldType::Enum { .. }) => false,
        (a, b) => a != b,
    };
    kind_differs
        || from.required != to.required
        || from.encrypted != to.encrypted
        || from.blind_index != to.blind_index
}

/// Lists the changes that turn `applied` into `desired`, in an order that is safe to execute:
/// renames first, creations next (so relations can point at them), then alterations, then drops.
pub fn diff(applied: &Schema, desired: &Schema) -> Vec<Change> {
    let renaming = Renaming::between(applied, desired);
    let mut changes = Vec::new();
    for (to, from) in &renaming.collections {
        changes.push(Change::RenameCollection {
            from: from.clone(),
            to: to.clone(),
        });
    }
    for (collection, fields) in &renaming.fields {
        for (to, from) in fields {
            changes.push(Change::RenameField {
                collection: collection.clone(),
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
    for (name, new) in &desired.collections {
        match applied.collection(renaming.applied_collection(name)) {
            None => changes.push(Change::CreateCollection(Arc::clone(new))),
            Some(old) => diff_collection(&renaming, old, new, &mut changes),
        }
    }
    for (name, old) in &applied.collections {
        if desired
            .collection(renaming.desired_collection(name))
            .is_none()
        {
            changes.push(Change::DropCollection(Arc::clone(old)));
        }
    }
    changes
}

fn diff_collection(
    renaming: &Renaming,
    old: &Collection,
    new: &Collection,
    changes: &mut Vec<Change>,
) {
    let collection = || new.name.clone();
    let old_fields: Vec<Field> = old
        .fields
        .iter()
        .map(|f| renaming.carried(&new.name, f))
        .collect();
    let old_field = |name: &str| old_fields.iter().find(|f| f.name == name);
    for field in &new.fields {
        match old_field(&field.name) {
            None => changes.push(Change::AddField {
                collection: collection(),
                field: field.clone(),
            }),
            Some(before) if storage_differs(before, field) => changes.push(Change::AlterField {
                collection: collection(),
                from: before.clone(),
                to: field.clone(),
            }),
            Some(before) if before != field && !only_unique_differs(before, field) => {
                changes.push(Change::RetuneField {
                    collection: collection(),
                    from: before.clone(),
                    to: field.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for (field, carried) in old.fields.iter().zip(&old_fields) {
        if new.field(&carried.name).is_none() {
            changes.push(Change::DropField {
                collection: collection(),
                field: field.clone(),
            });
        }
    }
    if old.soft_delete != new.soft_delete {
        changes.push(Change::SetSoftDelete {
            collection: collection(),
            enabled: new.soft_delete,
        });
    }
    if old.timestamps != new.timestamps {
        changes.push(Change::SetTimestamps {
            collection: collection(),
            enabled: new.timestamps,
        });
    }
    if old.tenant_scoped != new.tenant_scoped {
        changes.push(Change::SetTenantScoped {
            collection: collection(),
            enabled: new.tenant_scoped,
        });
    }
    // Indexes match by columns (under their desired names) and uniqueness; one whose derived
    // name changed with a rename is renamed rather than rebuilt.
    let old_indexes: Vec<(Index, Vec<String>)> = old
        .effective_indexes()
        .into_iter()
        .map(|i| {
            let keys = i
                .declared_keys()
                .iter()
                .map(|k| match k.strip_prefix('-') {
                    Some(f) => format!("-{}", renaming.desired_field(&new.name, f)),
                    None => renaming.desired_field(&new.name, k).to_owned(),
                })
                .collect();
            (i, keys)
        })
        .collect();
    let new_indexes = new.effective_indexes();
    // Keys compare with their order: an index turned descending is rebuilt.
    let same =
        |a: &Index, keys: &[String], b: &Index| a.unique == b.unique && keys == b.declared_keys();
    for index in &new_indexes {
        match old_indexes.iter().find(|(o, f)| same(o, f, index)) {
            None => changes.push(Change::CreateIndex {
                collection: collection(),
                index: index.clone(),
            }),
            Some((o, _)) if o.name != index.name => changes.push(Change::RenameIndex {
                collection: collection(),
                from: o.name.clone(),
                to: index.clone(),
            }),
            Some(_) => {}
        }
    }
    for (index, keys) in &old_indexes {
        if !new_indexes.iter().any(|n| same(index, keys, n)) {
            changes.push(Change::DropIndex {
                collection: collection(),
                index: index.clone(),
            });
        }
    }
}

/// `unique` is carried by an index, which the index diff already covers.
fn only_unique_differs(a: &Field, b: &Field) -> bool {
    Field {
        unique: b.unique,
        ..a.clone()
    } == *b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Constraints;

    fn field(name: &str, kind: FieldType, required: bool) -> Field {
        Field {
            name: name.into(),
            kind,
            required,
            unique: false,
            default: None,
            constraints: Constraints::default(),
            hidden: false,
            encrypted: false,
            blind_index: false,
        }
    }

    fn schema(collections: Vec<Collection>) -> Schema {
        Schema {
            collections: collections
                .into_iter()
                .map(|c| (c.name.clone(), Arc::new(c)))
                .collect(),
            users: None,
            renames: crate::model::Renames::default(),
            public_email: false,
        }
    }

    fn products(fields: Vec<Field>) -> Collection {
        Collection {
            name: "products".into(),
            fields,
            indexes: vec![],
            soft_delete: false,
            timestamps: true,
            tenant_scoped: false,
            require_if_match: false,
            audit: false,
            cache: None,
            rules: crate::model::Rules::default(),
        }
    }

    #[test]
    fn turning_tenant_scoping_on_is_a_change_that_is_not_additive() {
        let old = schema(vec![products(vec![field("name", FieldType::Text, true)])]);
        let mut scoped = products(vec![field("name", FieldType::Text, true)]);
        scoped.tenant_scoped = true;
        let new = schema(vec![scoped]);
        let changes = diff(&old, &new);
        assert!(changes.contains(&Change::SetTenantScoped {
            collection: "products".into(),
            enabled: true
        }));
        assert!(
            changes
                .iter()
                .all(|c| !matches!(c, Change::SetTenantScoped { .. }) || !c.is_additive())
        );
    }

    #[test]
    fn identical_schemas_have_no_changes() {
        let s = schema(vec![products(vec![field("name", FieldType::Text, true)])]);
        assert!(diff(&s, &s).is_empty());
    }

    #[test]
    fn new_optional_field_is_additive_and_required_without_default_is_not() {
        let old = schema(vec![products(vec![field("name", FieldType::Text, true)])]);
        let new = schema(vec![products(vec![
            field("name", FieldType::Text, true),
            field("note", FieldType::Text, false),
            field("sku", FieldType::Text, true),
        ])]);
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 2);
        assert!(changes[0].is_additive());
        assert!(!changes[1].is_additive());
    }

    #[test]
    fn type_change_is_an_alteration_and_constraint_tightening_narrows() {
        let old = schema(vec![products(vec![field("qty", FieldType::Text, false)])]);
        let mut tightened = field("qty", FieldType::Integer, false);
        let changes = diff(&old, &schema(vec![products(vec![tightened.clone()])]));
        assert!(matches!(changes.as_slice(), [Change::AlterField { .. }]));

        let before = schema(vec![products(vec![tightened.clone()])]);
        tightened.constraints.max = Some(10.0);
        let changes = diff(&before, &schema(vec![products(vec![tightened])]));
        assert!(matches!(changes.as_slice(), [Change::RetuneField { .. }]));
        assert!(!changes[0].is_additive());
    }

    #[test]
    fn dropped_collection_and_field_are_destructive() {
        let old = schema(vec![products(vec![
            field("a", FieldType::Text, false),
            field("b", FieldType::Text, false),
        ])]);
        let new = schema(vec![products(vec![field("a", FieldType::Text, false)])]);
        let changes = diff(&old, &new);
        assert!(matches!(changes.as_slice(), [Change::DropField { .. }]));
        assert!(!changes[0].is_additive());
        let changes = diff(&old, &Schema::default());
        assert!(matches!(changes.as_slice(), [Change::DropCollection(_)]));
    }

    #[test]
    fn unique_flag_becomes_an_index_change() {
        let old = schema(vec![products(vec![field("sku", FieldType::Text, false)])]);
        let mut unique = field("sku", FieldType::Text, false);
        unique.unique = true;
        let changes = diff(&old, &schema(vec![products(vec![unique])]));
        assert!(matches!(changes.as_slice(), [Change::CreateIndex { index, .. }] if index.unique));
        assert!(!changes[0].is_additive());
    }
}
