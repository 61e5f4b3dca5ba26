//! The top level of the file and each `[collections.<name>]` table.

use std::collections::BTreeMap;
use std::sync::Arc;

use toml_edit::{Table, TableLike};

use super::context::{Context, Entry};
use super::field::{self, FieldScope};
use super::index;
use super::renames;
use super::words::{did_you_mean, is_valid_name, list, rewrite_name};
use crate::model::{Collection, FieldType, RESERVED_COLLECTION_NAMES, Rules, Schema};

const TOP_LEVEL_KEYS: &[&str] = &["collections", "users"];
const COLLECTION_KEYS: &[&str] = &[
    "fields",
    "indexes",
    "soft_delete",
    "timestamps",
    "tenant_scoped",
    "require_if_match",
    "audit",
    "cache",
    "rules",
    super::renames::KEY,
];

const EXAMPLE_FIELD: &str = "fields.title = { type = \"text\", required = true }";

pub(super) fn read_schema(cx: &mut Context<'_>, root: &Table) -> Schema {
    for entry in Entry::all(root) {
        if !TOP_LEVEL_KEYS.contains(&entry.name()) {
            let name = entry.name();
            cx.report(
                entry.key_span(),
                name,
                format!(
                    "Unknown top-level key `{name}`; a schema file holds collections and the \
                     profile fields of users."
                ),
                format!(
                    "{}Declare each collection as a `[collections.<name>]` table and put its \
                     settings inside it.",
                    did_you_mean(name, TOP_LEVEL_KEYS)
                ),
            );
        }
    }

    let mut schema = Schema::default();
    if let Some(users) = Entry::get(root, "users") {
        super::users::read_users(cx, users, &mut schema);
    }
    let Some(entry) = Entry::get(root, "collections") else {
        report_no_collections(cx, None);
        return schema;
    };
    let Some(table) = entry.item.as_table_like() else {
        cx.report(
            entry.value_span(),
            "collections",
            format!(
                "`collections` must be a table of collections, but it is {}.",
                cx.found(entry.item)
            ),
            String::from("Declare each collection as a `[collections.<name>]` table."),
        );
        return schema;
    };
    if table.is_empty() {
        report_no_collections(cx, entry.key_span());
        return schema;
    }

    let declared: Vec<String> = table.iter().map(|(name, _)| name.to_owned()).collect();
    let mut renamed = Vec::new();
    for entry in Entry::all(table) {
        if let Some(table) = entry.item.as_table_like() {
            let path = format!("collections.{}", entry.name());
            renamed.extend(renames::read(
                cx,
                renames::Kind::Collection,
                entry.name(),
                &path,
                table,
                is_valid_name,
            ));
        }
        if let Some((collection, fields_renamed)) = read_collection(cx, &declared, entry) {
            if !fields_renamed.is_empty() {
                schema
                    .renames
                    .fields
                    .insert(collection.name.clone(), fields_renamed);
            }
            schema
                .collections
                .insert(collection.name.clone(), Arc::new(collection));
        }
    }
    schema.renames.collections = renames::check(cx, renames::Kind::Collection, &declared, renamed);
    check_tenant_relations(cx, &schema, table);
    schema
}

/// A shared collection may not point into a tenant-scoped one: its records are seen by every
/// tenant, so such a relation would show one tenant's ids (and, expanded, records) to others.
fn check_tenant_relations(cx: &mut Context<'_>, schema: &Schema, table: &dyn TableLike) {
    for entry in Entry::all(table) {
        let Some(collection) = schema.collection(entry.name()) else {
            continue;
        };
        if collection.tenant_scoped {
            continue;
        }
        for field in &collection.fields {
            let FieldType::Relation {
                collection: target, ..
            } = &field.kind
            else {
                continue;
            };
            if schema.collection(target).is_some_and(|t| t.tenant_scoped) {
                cx.report(
                    entry.key_span(),
                    &format!("collections.{}.fields.{}", collection.name, field.name),
                    format!(
                        "`{}.{}` points at the tenant-scoped collection `{target}`, but `{}` is \
                         shared by every tenant.",
                        collection.name, field.name, collection.name
                    ),
                    format!(
                        "Add `tenant_scoped = true` to `{}`, or remove the relation.",
                        collection.name
                    ),
                );
            }
        }
    }
}

fn report_no_collections(cx: &mut Context<'_>, span: Option<std::ops::Range<usize>>) {
    cx.report(
        span,
        "collections",
        String::from("The schema declares no collections."),
        format!(
            "Add a collection, for example `[collections.posts]` with `{EXAMPLE_FIELD}` below it."
        ),
    );
}

/// Reads one collection and the renames of its fields. `declared` holds every collection name
/// of the file, for relations.
fn read_collection(
    cx: &mut Context<'_>,
    declared: &[String],
    entry: Entry<'_>,
) -> Option<(Collection, BTreeMap<String, String>)> {
    let name = entry.name();
    let path = format!("collections.{name}");
    check_collection_name(cx, &path, entry);

    let Some(table) = entry.item.as_table_like() else {
        cx.report(
            entry.value_span(),
            &path,
            format!(
                "Collection `{name}` must be a table, but it is {}.",
                cx.found(entry.item)
            ),
            format!(
                "Declare it as a table: a `[collections.{name}]` header followed by its fields."
            ),
        );
        return None;
    };

    for key in Entry::all(table) {
        if !COLLECTION_KEYS.contains(&key.name()) {
            cx.report(
                key.key_span(),
                &format!("{path}.{}", key.name()),
                format!("Unknown key `{}` in collection `{name}`.", key.name()),
                format!(
                    "{}Allowed keys are {}.",
                    did_you_mean(key.name(), COLLECTION_KEYS),
                    list(COLLECTION_KEYS)
                ),
            );
        }
    }

    let soft_delete = read_flag(cx, table, &path, name, "soft_delete").unwrap_or(false);
    let timestamps = read_flag(cx, table, &path, name, "timestamps").unwrap_or(true);
    let tenant_scoped = read_flag(cx, table, &path, name, "tenant_scoped").unwrap_or(false);
    let require_if_match = read_flag(cx, table, &path, name, "require_if_match").unwrap_or(false);
    let audit = read_flag(cx, table, &path, name, "audit").unwrap_or(false);
    let cache = super::cache::read_cache(cx, table, &path, name);
    let fields = read_fields(cx, declared, table, &path, entry);
    let indexes = match Entry::get(table, "indexes") {
        Some(indexes) => index::read_indexes(cx, name, &path, &fields.names, timestamps, indexes),
        None => Vec::new(),
    };

    let rules = match Entry::get(table, "rules") {
        Some(rules) => super::rules::read_rules(cx, &path, name, rules),
        None => Rules::default(),
    };

    let collection = Collection {
        name: name.to_owned(),
        fields: fields.fields?,
        indexes,
        soft_delete,
        timestamps,
        tenant_scoped,
        require_if_match,
        audit,
        cache,
        rules,
    };
    Some((collection, fields.renames))
}

/// Reports a collection name that is malformed or taken; at most one problem per name.
fn check_collection_name(cx: &mut Context<'_>, path: &str, entry: Entry<'_>) {
    let name = entry.name();
    let (message, hint) = if name.starts_with('_') {
        (
            format!(
                "Collection name `{name}` starts with an underscore, which is reserved for system \
                 collections."
            ),
            format!(
                "Rename it without the underscore, for example to `{}`.",
                suggest_name(name)
            ),
        )
    } else if !is_valid_name(name) {
        (
            format!(
                "Collection name `{name}` is not a valid name: names start with a lowercase letter \
                 and contain only lowercase letters, digits and underscores, at most 63 in all."
            ),
            format!("Rename it, for example to `{}`.", suggest_name(name)),
        )
    } else if RESERVED_COLLECTION_NAMES.contains(&name) {
        (
            format!("Collection name `{name}` clashes with a system collection or route word."),
            format!("Rename it, for example to `app_{name}`."),
        )
    } else {
        return;
    };
    cx.report(entry.key_span(), path, message, hint);
}

fn suggest_name(name: &str) -> String {
    let rewritten = rewrite_name(name, "app");
    if RESERVED_COLLECTION_NAMES.contains(&rewritten.as_str()) {
        rewrite_name(&format!("app_{rewritten}"), "app")
    } else {
        rewritten
    }
}

fn read_flag(
    cx: &mut Context<'_>,
    table: &dyn TableLike,
    path: &str,
    collection: &str,
    key: &str,
) -> Option<bool> {
    let entry = Entry::get(table, key)?;
    let value = entry.item.as_bool();
    if value.is_none() {
        cx.report(
            entry.value_span(),
            &format!("{path}.{key}"),
            format!(
                "`{key}` in collection `{collection}` must be a boolean, but it is {}.",
                cx.found(entry.item)
            ),
            format!("Write `{key} = true` or `{key} = false`."),
        );
    }
    value
}

/// What [`read_fields`] found.
#[derive(Default)]
pub(super) struct ReadFields {
    /// `None` when any field is unusable.
    pub(super) fields: Option<Vec<crate::model::Field>>,
    /// Every declared field, usable or not, so that indexes are not also reported for naming
    /// them.
    pub(super) names: Vec<String>,
    /// The sound `renamed_from` declarations: field → its previous name.
    pub(super) renames: BTreeMap<String, String>,
}

/// Reads the `fields` table.
pub(super) fn read_fields(
    cx: &mut Context<'_>,
    declared: &[String],
    table: &dyn TableLike,
    path: &str,
    collection: Entry<'_>,
) -> ReadFields {
    let name = collection.name();
    let no_fields_hint = format!(
        "Add at least one field, for example `{EXAMPLE_FIELD}` under `[collections.{name}]`."
    );
    let Some(entry) = Entry::get(table, "fields") else {
        cx.report(
            collection.key_span(),
            path,
            format!("Collection `{name}` declares no fields."),
            no_fields_hint,
        );
        return ReadFields::default();
    };
    let Some(fields_table) = entry.item.as_table_like() else {
        cx.report(
            entry.value_span(),
            &format!("{path}.fields"),
            format!(
                "`fields` in collection `{name}` must be a table of fields, but it is {}.",
                cx.found(entry.item)
            ),
            format!("Declare each field as `fields.<name> = {{ type = \"...\" }}`, for example `{EXAMPLE_FIELD}`."),
        );
        return ReadFields::default();
    };
    if fields_table.is_empty() {
        cx.report(
            entry.key_span(),
            &format!("{path}.fields"),
            format!("Collection `{name}` declares no fields."),
            no_fields_hint,
        );
        return ReadFields::default();
    }

    let mut fields = Some(Vec::new());
    let mut names = Vec::new();
    let mut renamed = Vec::new();
    for field_entry in Entry::all(fields_table) {
        names.push(field_entry.name().to_owned());
        let scope = FieldScope::new(name, field_entry.name());
        if let Some(table) = field_entry.item.as_table_like() {
            renamed.extend(renames::read(
                cx,
                renames::Kind::Field(name),
                field_entry.name(),
                &scope.path,
                table,
                field::is_usable_field_name,
            ));
        }
        let field = field::read_field(cx, declared, &scope, field_entry);
        fields = fields.zip(field).map(|(mut all, field)| {
            all.push(field);
            all
        });
    }
    let renames = renames::check(cx, renames::Kind::Field(name), &names, renamed);
    ReadFields {
        fields,
        names,
        renames,
    }
}
