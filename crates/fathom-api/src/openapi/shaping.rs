//! The `fields` and `expand` parameters of list and get, described exactly: each is a
//! comma-separated list (`style: form`, `explode: false`) whose items are the names the server
//! accepts, so neither a generated client nor a property-based tester can send a name that is
//! documented as valid and then refused.

use std::sync::Arc;

use fathom_schema::{Collection, FieldType, Schema};
use serde_json::{Value, json};

use crate::records::fields::known_columns;

/// The relations `expand` follows from `collection`, with the collection each leads to: its
/// relation fields (to-one, by field name), then the reverse relations pointing at it (to-many,
/// named `<collection>_via_<field>`).
pub fn relations(schema: &Schema, collection: &Collection) -> Vec<(String, Arc<Collection>)> {
    let mut out = Vec::new();
    if collection.name == fathom_schema::ACCOUNTS {
        // An expanded account has no relations to expand further.
        return out;
    }
    for field in &collection.fields {
        if field.kind.points_at_accounts() {
            // Accounts expand as `Schema::accounts_view` describes them.
            out.push((field.name.clone(), Arc::new(schema.accounts_view())));
            continue;
        }
        if let FieldType::Relation {
            collection: target, ..
        } = &field.kind
            && let Some(target) = schema.collection(target)
        {
            out.push((field.name.clone(), target.clone()));
        }
    }
    for (source_name, source) in &schema.collections {
        for field in &source.fields {
            if let FieldType::Relation {
                collection: target, ..
            } = &field.kind
                && *target == collection.name
            {
                out.push((format!("{source_name}_via_{}", field.name), source.clone()));
            }
        }
    }
    out
}

/// Every `expand` item: each relation, and each relation of its target (two levels deep).
fn expand_items(schema: &Schema, collection: &Collection) -> Vec<String> {
    let mut items = Vec::new();
    for (name, target) in relations(schema, collection) {
        items.push(name.clone());
        for (inner, _) in relations(schema, &target) {
            items.push(format!("{name}.{inner}"));
        }
    }
    items
}

/// Every `fields` item: the record's own names, then `relation.field` for each relation.
fn field_items(schema: &Schema, collection: &Collection) -> Vec<String> {
    let mut items = known_columns(collection);
    for (name, target) in relations(schema, collection) {
        items.extend(
            known_columns(&target)
                .into_iter()
                .map(|column| format!("{name}.{column}")),
        );
    }
    items
}

/// A comma-separated list parameter whose items are `items`. With no items the parameter
/// admits only the empty list.
fn list_parameter(name: &str, description: String, items: &[String]) -> Value {
    let item_schema = if items.is_empty() {
        json!(false)
    } else {
        json!({ "type": "string", "enum": items })
    };
    let mut parameter = json!({
        "name": name, "in": "query", "required": false,
        "description": description,
        "style": "form", "explode": false,
        "schema": { "type": "array", "items": item_schema },
    });
    if !items.is_empty() {
        parameter["example"] = json!(items.iter().take(2).cloned().collect::<Vec<_>>());
    }
    parameter
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names a record of `collection` carries, quoted, for descriptions.
pub fn field_list(collection: &Collection) -> String {
    quoted(&known_columns(collection))
}

/// `fields` and `expand`, which list and get share.
pub fn shaping_parameters(schema: &Schema, collection: &Collection) -> [Value; 2] {
    let relations: Vec<String> = relations(schema, collection)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let expand_description = if relations.is_empty() {
        "Relations to embed under each record's `expand`, comma-separated. This collection has no relations.".to_owned()
    } else {
        format!(
            "Relations to embed under each record's `expand`, comma-separated, up to two levels deep \
             (`order.customer`). Reverse relations are named `<collection>_via_<field>`. Here: {}. \
             Expanded records obey their collection's list rule; one the caller may not list at \
             all makes the answer a 401 or 403.",
            quoted(&relations)
        )
    };
    let fields_description = format!(
        "Return only these fields, comma-separated (`id` always comes). `relation.field` picks a \
         field of a related record and embeds that relation as `expand` would. The fields are: {}. \
         Hidden fields reach administrators only; for anyone else they are left out.",
        field_list(collection)
    );
    [
        list_parameter(
            "fields",
            fields_description,
            &field_items(schema, collection),
        ),
        list_parameter(
            "expand",
            expand_description,
            &expand_items(schema, collection),
        ),
    ]
}
