//! The field-level changes of one collection between two documents: what clients read (the
//! `{Type}Record` properties) and what they may send (`{Type}Create`, `{Type}Update`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{ApiChange, ApiChangeKind, CollectionDoc, SCHEMAS_PREFIX};

/// Properties that are not fields: related records, present only on request.
const NOT_FIELDS: &[&str] = &["expand"];

fn property<'d>(schema: Option<&'d Map<String, Value>>, field: &str) -> Option<&'d Value> {
    schema?.get("properties")?.get(field)
}

fn required(schema: Option<&Map<String, Value>>, field: &str) -> bool {
    schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|v| v == field))
}

/// The JSON types a property allows, `null` apart: (types, whether null is allowed).
fn types(property: &Value) -> (BTreeSet<String>, bool) {
    let mut out: BTreeSet<String> = match property.get("type") {
        Some(Value::String(t)) => [t.clone()].into(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => BTreeSet::new(),
    };
    let nullable = out.remove("null");
    (out, nullable)
}

/// What identifies a field's type on the wire: Fathom's type name, the JSON types, the format
/// and a relation's target, under its new name when the target was renamed (the ids it holds
/// are the same records').
fn signature(property: &Value, renamed: &BTreeMap<String, String>) -> Value {
    let target = property
        .get("x-fathom-relation")
        .and_then(Value::as_str)
        .map(|t| renamed.get(t).map_or(t, String::as_str));
    json!({
        "x-fathom-type": property.get("x-fathom-type"),
        "type": types(property).0,
        "format": property.get("format"),
        "x-fathom-relation": target,
    })
}

fn enum_values(property: &Value) -> Option<BTreeSet<String>> {
    property
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect()
        })
}

/// How a bound compares: which direction is narrower for what a client may send.
#[derive(Clone, Copy)]
enum Bound {
    /// A larger value admits fewer values (`minLength`, `minimum`).
    Lower,
    /// A smaller value admits fewer values (`maxLength`, `maximum`).
    Upper,
}

const BOUNDS: &[(&str, Bound)] = &[
    ("minLength", Bound::Lower),
    ("maxLength", Bound::Upper),
    ("minimum", Bound::Lower),
    ("maximum", Bound::Upper),
];

/// The constraints of what a client may send that narrowed and that widened, by keyword.
fn constraint_changes(before: &Value, after: &Value) -> (Vec<String>, Vec<String>) {
    let mut narrowed = Vec::new();
    let mut widened = Vec::new();
    for (key, bound) in BOUNDS {
        let was = before.get(*key).and_then(Value::as_f64);
        let is = after.get(*key).and_then(Value::as_f64);
        let narrower = match (was, is, bound) {
            (None, None, _) => continue,
            (None, Some(_), _) => true,
            (Some(_), None, _) => false,
            (Some(a), Some(b), _) if a == b => continue,
            (Some(a), Some(b), Bound::Lower) => b > a,
            (Some(a), Some(b), Bound::Upper) => b < a,
        };
        let text = format!(
            "{key} {} -> {}",
            was.map_or("none".into(), |v| v.to_string()),
            is.map_or("none".into(), |v| v.to_string())
        );
        if narrower {
            narrowed.push(text);
        } else {
            widened.push(text);
        }
    }
    match (before.get("pattern"), after.get("pattern")) {
        (a, b) if a == b => {}
        // A changed pattern admits different values: some that passed no longer do.
        (_, Some(p)) => narrowed.push(format!("pattern -> {p}")),
        (Some(_), None) => widened.push("pattern removed".into()),
        (None, None) => {}
    }
    (narrowed, widened)
}

/// A pointer to a property of a component schema.
fn pointer(schema: &str, field: &str) -> String {
    format!("{SCHEMAS_PREFIX}{schema}/properties/{field}")
}

/// The property that best describes a field, with its pointer: as read, else as created, else
/// as updated.
fn describe(doc: &CollectionDoc<'_>, field: &str) -> (String, Value) {
    for (schema, name) in [
        (doc.record, &doc.names[0]),
        (doc.create, &doc.names[1]),
        (doc.update, &doc.names[2]),
    ] {
        if let Some(p) = property(schema, field) {
            return (pointer(name, field), p.clone());
        }
    }
    (String::new(), Value::Null)
}

/// Pushes every field-level change of collection `name` from `was` to `is`.
pub(super) fn compare(
    name: &str,
    (was, is): (&CollectionDoc<'_>, &CollectionDoc<'_>),
    renamed: &BTreeMap<String, String>,
    out: &mut Vec<ApiChange>,
) {
    let names = |doc: &CollectionDoc<'_>| -> BTreeSet<String> {
        [doc.record, doc.create, doc.update]
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("properties").and_then(Value::as_object))
            .flat_map(|p| p.keys().cloned())
            .filter(|k| !NOT_FIELDS.contains(&k.as_str()))
            .collect()
    };
    let before = names(was);
    let after = names(is);
    for field in before.difference(&after) {
        let (path, property) = describe(was, field);
        out.push(ApiChange::new(
            ApiChangeKind::FieldRemoved,
            Some(name),
            format!("`{name}.{field}`"),
            path,
            (property, Value::Null),
            format!(
                "Answers no longer carry `{field}`, and requests that send it are refused (400): clients reading or writing it break."
            ),
        ));
    }
    for field in after.difference(&before) {
        let (path, property) = describe(is, field);
        let change = if required(is.create, field) {
            ApiChange::new(
                ApiChangeKind::FieldRequired,
                Some(name),
                format!("`{name}.{field}`"),
                pointer(&is.names[1], field),
                (Value::Null, property),
                format!(
                    "New field `{field}` is required on create: existing clients' creates are refused (400); give it a default or make it optional."
                ),
            )
        } else {
            ApiChange::new(
                ApiChangeKind::FieldAdded,
                Some(name),
                format!("`{name}.{field}`"),
                path,
                (Value::Null, property),
                format!("New optional field `{field}`."),
            )
        };
        out.push(change);
    }
    for field in before.intersection(&after) {
        compare_field(name, field, (was, is), renamed, out);
    }
}

/// A field as clients read it.
fn read<'d>(doc: &CollectionDoc<'d>, field: &str) -> Option<&'d Value> {
    property(doc.record, field)
}

/// A field as clients may send it: the create body's property, else the update's.
fn write<'d>(doc: &CollectionDoc<'d>, field: &str) -> Option<&'d Value> {
    property(doc.create, field).or_else(|| property(doc.update, field))
}

/// The changes of one field both documents have.
fn compare_field(
    name: &str,
    field: &str,
    (was, is): (&CollectionDoc<'_>, &CollectionDoc<'_>),
    renamed: &BTreeMap<String, String>,
    out: &mut Vec<ApiChange>,
) {
    let subject = format!("`{name}.{field}`");
    let read = |doc: &CollectionDoc<'_>| read(doc, field).cloned();
    let write = |doc: &CollectionDoc<'_>| write(doc, field).cloned();
    let either = |doc: &CollectionDoc<'_>| read(doc).or_else(|| write(doc)).unwrap_or(Value::Null);
    let (old, new) = (either(was), either(is));
    let path = describe(is, field).0;
    let mut push = |kind: ApiChangeKind, path: String, sides: (Value, Value), message: String| {
        out.push(ApiChange::new(
            kind,
            Some(name),
            subject.clone(),
            path,
            sides,
            message,
        ));
    };
    let none = BTreeMap::new();
    if signature(&old, renamed) != signature(&new, &none) {
        push(
            ApiChangeKind::TypeChanged,
            path,
            (signature(&old, &none), signature(&new, &none)),
            format!(
                "`{field}` changes type: clients reading or sending the old type break; add a new field of the new type instead, and drop this one once clients have moved."
            ),
        );
        return;
    }
    if let (Some(a), Some(b)) = (enum_values(&old), enum_values(&new)) {
        let gone: Vec<&String> = a.difference(&b).collect();
        let came: Vec<&String> = b.difference(&a).collect();
        if !gone.is_empty() {
            push(
                ApiChangeKind::EnumValueRemoved,
                path.clone(),
                (json!(gone), Value::Null),
                format!(
                    "`{field}` no longer accepts {}: clients sending {} get 400.",
                    quoted(&gone),
                    if gone.len() == 1 { "it" } else { "them" }
                ),
            );
        }
        if !came.is_empty() {
            push(
                ApiChangeKind::EnumValueAdded,
                path.clone(),
                (Value::Null, json!(came)),
                format!("`{field}` also accepts {}.", quoted(&came)),
            );
        }
    }
    let create_path = if is.create.is_some() {
        pointer(&is.names[1], field)
    } else {
        pointer(&is.names[2], field)
    };
    let was_required = required(was.create, field);
    let is_required = required(is.create, field);
    let update_nullable = |doc: &CollectionDoc<'_>| property(doc.update, field).map(|p| types(p).1);
    if is_required && !was_required && property(was.create, field).is_some() {
        push(
            ApiChangeKind::FieldRequired,
            create_path.clone(),
            (json!({"required": false}), json!({"required": true})),
            format!(
                "`{field}` is now required on create: creates that leave it out are refused (400)."
            ),
        );
    } else if update_nullable(was) == Some(true) && update_nullable(is) == Some(false) {
        push(
            ApiChangeKind::FieldRequired,
            pointer(&is.names[2], field),
            (json!({"nullable": true}), json!({"nullable": false})),
            format!("`{field}` can no longer be cleared: updates sending null are refused (400)."),
        );
    } else if was_required && !is_required {
        push(
            ApiChangeKind::FieldOptional,
            create_path.clone(),
            (json!({"required": true}), json!({"required": false})),
            format!("Creates may now leave `{field}` out."),
        );
    }
    if let (Some(a), Some(b)) = (write(was), write(is)) {
        let (narrowed, widened) = constraint_changes(&a, &b);
        if !narrowed.is_empty() {
            push(
                ApiChangeKind::TypeNarrowed,
                create_path.clone(),
                (a.clone(), b.clone()),
                format!(
                    "`{field}` accepts fewer values ({}): requests that passed may now be refused (400).",
                    narrowed.join(", ")
                ),
            );
        }
        if !widened.is_empty() {
            push(
                ApiChangeKind::TypeWidened,
                create_path,
                (a.clone(), b.clone()),
                format!("`{field}` accepts more values ({}).", widened.join(", ")),
            );
        }
    }
    if let (Some(a), Some(b)) = (read(was), read(is))
        && !types(&a).1
        && types(&b).1
    {
        push(
            ApiChangeKind::NowNullable,
            path,
            (
                a.get("type").cloned().unwrap_or(Value::Null),
                b.get("type").cloned().unwrap_or(Value::Null),
            ),
            format!(
                "Answers may now carry null for `{field}`: clients that assume a value may break."
            ),
        );
    }
}

fn quoted(values: &[&String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
