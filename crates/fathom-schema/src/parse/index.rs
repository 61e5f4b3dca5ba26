//! A collection's `indexes`: `[["a", "b"], { fields = ["c"], unique = true }]`, or
//! `[[collections.<name>.indexes]]` tables with the same `fields` and `unique` keys. A field
//! written `"-b"` is kept in descending order, for sorts whose keys run both ways.

use std::ops::Range;

use toml_edit::{Array, Item, TableLike, Value};

use super::context::{Context, Entry};
use super::words::{did_you_mean, list, ordinal};
use crate::model::Index;

const INDEX_KEYS: &[&str] = &["fields", "unique"];

const EXAMPLE: &str =
    "indexes = [[\"category\", \"price\"], { fields = [\"name\"], unique = true }]";

/// Which collection the indexes belong to and which fields they may name.
struct Scope<'a> {
    collection: &'a str,
    /// `collections.<collection>.indexes`.
    path: String,
    /// Declared fields with usable names, then the system fields an index may use.
    indexable: Vec<String>,
    /// Every declared field, usable or not: naming one whose name is itself wrong is reported
    /// at the field only, once.
    declared: &'a [String],
    timestamps: bool,
}

/// One entry of `indexes` before it is read.
enum Shape<'t> {
    List(&'t Array),
    Table(&'t dyn TableLike),
    Other(String),
}

pub(super) fn read_indexes(
    cx: &mut Context<'_>,
    collection: &str,
    collection_path: &str,
    fields: &[String],
    timestamps: bool,
    entry: Entry<'_>,
) -> Vec<Index> {
    // A field whose own name is wrong (reported there) is never offered in a hint.
    let mut indexable: Vec<String> = fields
        .iter()
        .filter(|f| super::field::is_usable_field_name(f))
        .cloned()
        .collect();
    let system: &[&str] = if timestamps {
        &["id", "created_at", "updated_at"]
    } else {
        &["id"]
    };
    for name in system {
        indexable.push((*name).to_owned());
    }
    let scope = Scope {
        collection,
        path: format!("{collection_path}.indexes"),
        indexable,
        declared: fields,
        timestamps,
    };

    let shapes: Vec<(Shape<'_>, Option<Range<usize>>)> = match entry.item {
        Item::Value(Value::Array(array)) => array
            .iter()
            .map(|value| {
                let shape = match value {
                    Value::Array(list) => Shape::List(list),
                    Value::InlineTable(table) => Shape::Table(table),
                    other => Shape::Other(cx.found(&Item::Value(other.clone()))),
                };
                (shape, value.span())
            })
            .collect(),
        Item::ArrayOfTables(tables) => tables
            .iter()
            .map(|table| (Shape::Table(table as &dyn TableLike), table.span()))
            .collect(),
        other => {
            cx.report(
                entry.value_span(),
                &scope.path,
                format!(
                    "`indexes` of collection `{collection}` must be an array, but it is {}.",
                    cx.found(other)
                ),
                format!("Write the indexes as an array, for example `{EXAMPLE}`."),
            );
            return Vec::new();
        }
    };

    let mut indexes: Vec<Index> = Vec::new();
    for (at, (shape, span)) in shapes.into_iter().enumerate() {
        let Some((keys, unique)) = read_entry(cx, &scope, at, shape, span.clone()) else {
            continue;
        };
        let index = Index::ordered(collection, keys.fields, keys.descending, unique);
        if let Some(earlier) = indexes.iter().position(|i| i.name == index.name) {
            cx.report(
                span,
                &format!("{}[{at}]", scope.path),
                format!(
                    "Index {} of collection `{collection}` repeats index {} (on {}).",
                    at + 1,
                    earlier + 1,
                    list(&index.fields)
                ),
                String::from("Remove one of the two."),
            );
            continue;
        }
        indexes.push(index);
    }
    indexes
}

/// An index entry's fields, in order, and those of them kept descending.
struct Keys {
    fields: Vec<String>,
    descending: Vec<String>,
}

/// Reads one index entry: its keys and whether it is unique.
fn read_entry(
    cx: &mut Context<'_>,
    scope: &Scope<'_>,
    at: usize,
    shape: Shape<'_>,
    span: Option<Range<usize>>,
) -> Option<(Keys, bool)> {
    let path = format!("{}[{at}]", scope.path);
    let table = match shape {
        Shape::List(list) => {
            return read_field_list(cx, scope, at, list, &path).map(|f| (f, false));
        }
        Shape::Table(table) => table,
        Shape::Other(found) => {
            cx.report(
                span,
                &path,
                format!(
                    "Index {} of collection `{}` must be an array of field names or a table with \
                     `fields`, but it is {found}.",
                    at + 1,
                    scope.collection
                ),
                format!("Write `[\"field_a\", \"field_b\"]` or `{{ fields = [\"field_a\"], unique = true }}`, as in `{EXAMPLE}`."),
            );
            return None;
        }
    };

    for key in Entry::all(table) {
        if !INDEX_KEYS.contains(&key.name()) {
            cx.report(
                key.key_span(),
                &format!("{path}.{}", key.name()),
                format!(
                    "Unknown key `{}` in index {} of collection `{}`.",
                    key.name(),
                    at + 1,
                    scope.collection
                ),
                format!(
                    "{}Allowed keys are {}.",
                    did_you_mean(key.name(), INDEX_KEYS),
                    list(INDEX_KEYS)
                ),
            );
        }
    }

    let unique = match Entry::get(table, "unique") {
        None => Some(false),
        Some(entry) => {
            let unique = entry.item.as_bool();
            if unique.is_none() {
                cx.report(
                    entry.value_span(),
                    &format!("{path}.unique"),
                    format!(
                        "`unique` of index {} of collection `{}` must be a boolean, but it is {}.",
                        at + 1,
                        scope.collection,
                        cx.found(entry.item)
                    ),
                    String::from("Write `unique = true` or `unique = false`."),
                );
            }
            unique
        }
    };

    let fields = match Entry::get(table, "fields") {
        None => {
            cx.report(
                span,
                &format!("{path}.fields"),
                format!(
                    "Index {} of collection `{}` has no `fields`.",
                    at + 1,
                    scope.collection
                ),
                String::from(
                    "Add the fields to index, such as `{ fields = [\"name\"], unique = true }`.",
                ),
            );
            None
        }
        Some(entry) => match entry.item.as_array() {
            Some(list) => read_field_list(cx, scope, at, list, &format!("{path}.fields")),
            None => {
                cx.report(
                    entry.value_span(),
                    &format!("{path}.fields"),
                    format!(
                        "`fields` of index {} of collection `{}` must be an array of field names, \
                         but it is {}.",
                        at + 1,
                        scope.collection,
                        cx.found(entry.item)
                    ),
                    String::from("Write `fields = [\"field_a\", \"field_b\"]`."),
                );
                None
            }
        },
    };
    Some((fields?, unique?))
}

fn read_field_list(
    cx: &mut Context<'_>,
    scope: &Scope<'_>,
    at: usize,
    array: &Array,
    path: &str,
) -> Option<Keys> {
    let number = at + 1;
    let collection = scope.collection;
    if array.is_empty() {
        cx.report(
            array.span(),
            path,
            format!("Index {number} of collection `{collection}` lists no fields."),
            format!(
                "Name at least one field to index; indexable fields are {}.",
                list(&scope.indexable)
            ),
        );
        return None;
    }
    let mut fields: Vec<String> = Vec::new();
    let mut descending: Vec<String> = Vec::new();
    let mut usable = true;
    for (position, value) in array.iter().enumerate() {
        let item_path = format!("{path}[{position}]");
        let Some(key) = value.as_str() else {
            usable = false;
            cx.report(
                value.span(),
                &item_path,
                format!(
                    "Index {number} of collection `{collection}` must list field names as strings, \
                     but its {} entry is {}.",
                    ordinal(position + 1),
                    cx.found(&Item::Value(value.clone()))
                ),
                String::from("Quote each field name, such as `[\"category\", \"price\"]`; write `\"-price\"` to keep a field in descending order."),
            );
            continue;
        };
        let (name, is_descending) = match key.strip_prefix('-') {
            Some(name) => (name, true),
            None => (key, false),
        };
        if is_descending {
            descending.push(name.to_owned());
        }
        if fields.iter().any(|f| f == name) {
            usable = false;
            cx.report(
                value.span(),
                &item_path,
                format!("Index {number} of collection `{collection}` lists field `{name}` twice."),
                String::from("Remove the repeated field name."),
            );
            continue;
        }
        if !scope.indexable.iter().any(|f| f == name) && !scope.declared.iter().any(|f| f == name) {
            usable = false;
            let (message, hint) = if !scope.timestamps
                && (name == "created_at" || name == "updated_at")
            {
                (
                    format!(
                        "Index {number} of collection `{collection}` names `{name}`, but the \
                         collection has `timestamps = false`, so it has no such field."
                    ),
                    format!("Remove `{name}` from the index, or remove `timestamps = false`."),
                )
            } else {
                (
                    format!(
                        "Index {number} of collection `{collection}` names field `{name}`, which \
                         the collection does not declare."
                    ),
                    format!(
                        "{}Indexable fields are {}.",
                        did_you_mean(name, &scope.indexable),
                        list(&scope.indexable)
                    ),
                )
            };
            cx.report(value.span(), &item_path, message, hint);
        }
        fields.push(name.to_owned());
    }
    usable.then_some(Keys { fields, descending })
}
