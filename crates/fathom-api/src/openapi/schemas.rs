//! JSON Schemas (the 2020-12 dialect OpenAPI 3.1 uses) for what travels on the wire: each
//! collection's `Record` and `Selected` (what a client reads), `Create` and `Update` (what it may
//! send). The shapes every endpoint shares are in `shared`.
//!
//! A field has two schemas because reading and writing differ: a record always carries every
//! field (null when unset) and decimals as strings, while a write may omit fields, send `null` to
//! clear an optional one, and send a decimal as a JSON number.

use std::collections::BTreeMap;

use fathom_schema::record::validate_value;
use fathom_schema::{Collection, Field, FieldType, Schema, TENANT_FIELD};
use serde_json::{Map, Value, json};

/// The largest magnitude documented for a decimal sent as a JSON number (below the 96-bit
/// mantissa's 7.9e28).
const DECIMAL_LIMIT: f64 = 1e28;
/// The longest decimal string documented: 28 digits (plus sign or point) always fit exactly.
const DECIMAL_MAX_LENGTH: usize = 28;

/// An example record id, used wherever a UUID example is wanted.
pub const EXAMPLE_ID: &str = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12";

/// A `$ref` to a schema under `components.schemas`.
pub fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The name each collection's types and operations are built from: `order_items` becomes
/// `OrderItems`. Two names that would meet (`a_1` and `a1` both give `A1`) keep their
/// underscores instead (`A_1`, `A1`): collection names are distinct and start with a lowercase
/// letter, so capitalising the first letter keeps them distinct. Stable for a given schema.
pub fn type_names(schema: &Schema) -> BTreeMap<String, String> {
    let pascal: BTreeMap<&str, String> = schema
        .collections
        .keys()
        .map(|name| (name.as_str(), pascal_case(name)))
        .collect();
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for candidate in pascal.values() {
        *uses.entry(candidate.as_str()).or_default() += 1;
    }
    pascal
        .iter()
        .map(|(name, candidate)| {
            let chosen = if uses.get(candidate.as_str()) == Some(&1) {
                candidate.clone()
            } else {
                capitalise(name)
            };
            ((*name).to_owned(), chosen)
        })
        .collect()
}

fn pascal_case(name: &str) -> String {
    name.split('_').map(capitalise).collect()
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Which side of the wire a field schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A value as the API returns it.
    Read,
    /// A value as a client may send it.
    Write,
}

/// A JSON number that prints as an integer when it is one (`0`, not `0.0`).
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// `type`, with `"null"` added when the value may be null.
fn types(names: &[&str], nullable: bool) -> Value {
    let mut all: Vec<&str> = names.to_vec();
    if nullable {
        all.push("null");
    }
    match all.as_slice() {
        [one] => json!(one),
        _ => json!(all),
    }
}

/// The JSON Schema of one field's value. `nullable` says whether `null` is allowed.
pub fn field_schema(field: &Field, direction: Direction, nullable: bool) -> Value {
    let mut out = Map::new();
    let mut notes: Vec<String> = Vec::new();
    let c = &field.constraints;
    match &field.kind {
        FieldType::Text => {
            out.insert("type".into(), types(&["string"], nullable));
        }
        FieldType::Integer => {
            out.insert("type".into(), types(&["integer"], nullable));
            out.insert("format".into(), json!("int64"));
        }
        FieldType::Number => {
            out.insert("type".into(), types(&["number"], nullable));
            out.insert("format".into(), json!("double"));
        }
        FieldType::Decimal => {
            // Decimals travel as strings to keep their precision; a write may also send a JSON
            // number (and `minimum`/`maximum` below then apply to it directly).
            let names: &[&str] = match direction {
                Direction::Read => &["string"],
                Direction::Write => &["string", "number"],
            };
            out.insert("type".into(), types(names, nullable));
            // `minimum` binds numbers only; a string can at least be kept from being negative.
            let pattern = if c.min.is_some_and(|min| min >= 0.0) {
                r"^[0-9]+(\.[0-9]+)?$"
            } else {
                r"^-?[0-9]+(\.[0-9]+)?$"
            };
            out.insert("pattern".into(), json!(pattern));
            if direction == Direction::Write {
                // At most 28 digits always fit the 96-bit mantissa exactly; longer strings may not.
                out.insert("maxLength".into(), json!(DECIMAL_MAX_LENGTH));
            }
            notes.push(
                "An exact decimal of up to 28 decimal places, returned as a string such as \"12.50\"."
                    .into(),
            );
            if direction == Direction::Write {
                notes.push(
                    "A JSON number is accepted too (rounded to 28 decimal places, as PostgreSQL rounds to a column's scale)."
                        .into(),
                );
            }
        }
        FieldType::Boolean => {
            out.insert("type".into(), types(&["boolean"], nullable));
        }
        FieldType::Timestamp => {
            out.insert("type".into(), types(&["string"], nullable));
            out.insert("format".into(), json!("date-time"));
            notes.push(match direction {
                Direction::Read => {
                    "An instant in UTC with milliseconds, such as 2026-01-31T09:30:00.000Z.".into()
                }
                Direction::Write => {
                    "An RFC 3339 timestamp such as 2026-01-31T09:30:00Z; stored in UTC.".into()
                }
            });
        }
        FieldType::Date => {
            out.insert("type".into(), types(&["string"], nullable));
            out.insert("format".into(), json!("date"));
        }
        FieldType::Uuid => {
            out.insert("type".into(), types(&["string"], nullable));
            out.insert("format".into(), json!("uuid"));
        }
        FieldType::Json => {
            // Any JSON value, null included: the empty schema.
            notes.push("Any JSON value.".into());
        }
        FieldType::Enum { values } => {
            out.insert("type".into(), types(&["string"], nullable));
            let mut allowed: Vec<Value> = values.iter().map(|v| json!(v)).collect();
            if nullable {
                allowed.push(Value::Null);
            }
            out.insert("enum".into(), Value::Array(allowed));
        }
        FieldType::Relation {
            collection,
            on_delete,
        } => {
            out.insert("type".into(), types(&["string"], nullable));
            out.insert("format".into(), json!("uuid"));
            out.insert("x-fathom-relation".into(), json!(collection));
            let on_delete = serde_json::to_value(on_delete)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            notes.push(format!(
                "The id of a record in `{collection}` (on delete of that record: {on_delete})."
            ));
        }
        FieldType::Email => {
            out.insert("type".into(), types(&["string"], nullable));
            out.insert("format".into(), json!("email"));
        }
        FieldType::Url => {
            out.insert("type".into(), types(&["string"], nullable));
            out.insert("format".into(), json!("uri"));
            notes.push("An http or https URL.".into());
        }
    }
    if field.kind.is_textual() {
        if let Some(min) = c.min_length {
            out.insert("minLength".into(), json!(min));
        }
        if let Some(max) = c.max_length {
            out.insert("maxLength".into(), json!(max));
        }
        if let Some(pattern) = &c.pattern {
            // Fathom anchors patterns to the whole value; JSON Schema patterns are unanchored.
            out.insert("pattern".into(), json!(format!("^(?:{pattern})$")));
        }
    }
    if field.kind.is_numeric() {
        // Without bounds of its own a field still has those of its storage: a 64-bit integer,
        // or a decimal's 96-bit mantissa.
        let (lowest, highest) = match field.kind {
            FieldType::Integer => (Some(json!(i64::MIN)), Some(json!(i64::MAX))),
            FieldType::Decimal => (Some(json!(-DECIMAL_LIMIT)), Some(json!(DECIMAL_LIMIT))),
            _ => (None, None),
        };
        if let Some(min) = c.min.map(number).or(lowest) {
            out.insert("minimum".into(), min);
        }
        if let Some(max) = c.max.map(number).or(highest) {
            out.insert("maximum".into(), max);
        }
        if matches!(field.kind, FieldType::Decimal) && (c.min.is_some() || c.max.is_some()) {
            notes.push("The bounds apply to string values too.".into());
        }
    }
    if field.unique {
        notes.push("Unique among live records.".into());
    }
    if direction == Direction::Write {
        if let Some(default) = &field.default {
            out.insert("default".into(), default.clone());
        }
        if let Some(example) = example(field) {
            out.insert("examples".into(), json!([example]));
        }
    }
    out.insert("x-fathom-type".into(), json!(field.kind.name()));
    if !notes.is_empty() {
        out.insert("description".into(), json!(notes.join(" ")));
    }
    Value::Object(out)
}

/// A valid value for a field, for examples: its default, or the first of a few candidates that
/// passes the same validation a write does (a text pattern may refuse them all: then none).
fn example(field: &Field) -> Option<Value> {
    if let Some(default) = &field.default {
        return Some(default.clone());
    }
    let c = &field.constraints;
    let clamp = |v: f64| {
        let v = c.min.map_or(v, |min| v.max(min));
        c.max.map_or(v, |max| v.min(max))
    };
    let candidates: Vec<Value> = match &field.kind {
        FieldType::Text => {
            let min = c.min_length.unwrap_or(0) as usize;
            let max = c.max_length.map_or(usize::MAX, |m| m as usize);
            let fit = |text: &str| {
                let mut text: String = text.chars().take(max).collect();
                while text.chars().count() < min {
                    text.push('x');
                }
                json!(text)
            };
            [
                field.name.as_str(),
                &field.name.to_uppercase(),
                "ABC-123",
                "abc-123",
                "A1",
                "a1",
            ]
            .into_iter()
            .map(fit)
            .collect()
        }
        FieldType::Integer => vec![json!(clamp(1.0).ceil() as i64)],
        FieldType::Number => vec![number(clamp(1.5))],
        FieldType::Decimal => vec![json!(format!("{:.2}", clamp(12.5)))],
        FieldType::Boolean => vec![json!(true)],
        FieldType::Timestamp => vec![json!("2026-01-31T09:30:00Z")],
        FieldType::Date => vec![json!("2026-01-31")],
        FieldType::Uuid | FieldType::Relation { .. } => vec![json!(EXAMPLE_ID)],
        FieldType::Json => vec![json!({ "key": "value" })],
        FieldType::Enum { values } => values.iter().take(1).map(|v| json!(v)).collect(),
        FieldType::Email => vec![json!("ada@example.com")],
        FieldType::Url => vec![json!("https://example.com/")],
    };
    candidates
        .into_iter()
        .find(|candidate| validate_value(field, candidate).is_ok())
}

/// Whether a create may leave the field out: it is optional, or has a default.
fn create_optional(field: &Field) -> bool {
    !field.required || field.default.is_some()
}

/// Which answers a record schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordShape {
    /// `{Name}Record`: a record as create, update and batch return it, every field present that
    /// the caller may see (hidden fields reach administrators only, so they are not required).
    Whole,
    /// `{Name}Selected`: a record as list and get return it, where `fields` may leave out
    /// anything but `id`.
    Selected,
}

/// A record of `collection` as the API returns it, in the given shape; `expand` appears when
/// the request asked for related records.
pub fn record_schema(
    schema: &Schema,
    collection: &Collection,
    names: &TypeNames,
    shape: RecordShape,
) -> Value {
    let mut properties = Map::new();
    let mut required = vec![json!("id")];
    let mut always = |name: &str, property: Value, properties: &mut Map<String, Value>| {
        properties.insert(name.into(), property);
        if shape == RecordShape::Whole {
            required.push(json!(name));
        }
    };
    properties.insert(
        "id".into(),
        json!({ "type": "string", "format": "uuid", "readOnly": true, "description": "Assigned by Fathom (a UUIDv7)." }),
    );
    if collection.timestamps {
        for (name, what) in [("created_at", "created"), ("updated_at", "last changed")] {
            always(
                name,
                json!({ "type": "string", "format": "date-time", "readOnly": true, "description": format!("When the record was {what} (UTC).") }),
                &mut properties,
            );
        }
    }
    always(
        "version",
        json!({ "type": "integer", "minimum": 1, "readOnly": true, "description": "Starts at 1 and grows by one on every update." }),
        &mut properties,
    );
    if collection.tenant_scoped {
        always(
            TENANT_FIELD,
            json!({ "type": "string", "readOnly": true, "description": "The tenant the record belongs to: the caller's, set on create (administrators name it)." }),
            &mut properties,
        );
    }
    for field in &collection.fields {
        let mut property = field_schema(field, Direction::Read, !field.required);
        if field.encrypted {
            let note = if field.blind_index {
                "Stored encrypted; filters take `=`, `!=`, `in` and null tests only, and it cannot be sorted on."
            } else {
                "Stored encrypted; filters take null tests only, and it cannot be sorted on."
            };
            let description = match property["description"].as_str() {
                Some(text) => format!("{text} {note}"),
                None => note.to_owned(),
            };
            property["description"] = json!(description);
        }
        if field.hidden {
            // Only administrators receive a hidden field, so no one may count on it.
            let note = "Hidden: only administrators receive it.";
            let description = match property["description"].as_str() {
                Some(text) => format!("{text} {note}"),
                None => note.to_owned(),
            };
            property["description"] = json!(description);
            properties.insert(field.name.clone(), property);
        } else {
            always(&field.name, property, &mut properties);
        }
    }
    properties.insert("expand".into(), expand_schema(schema, collection, names));
    let (title, description) = match shape {
        RecordShape::Whole => (
            format!("A record of `{}`", collection.name),
            "Every field the caller may see is present, null when unset.",
        ),
        RecordShape::Selected => (
            format!("A record of `{}`, as read", collection.name),
            "Without `fields`, every field the caller may see is present, null when unset; with \
             `fields`, `id` and the fields asked for.",
        ),
    };
    json!({
        "type": "object",
        "title": title,
        "description": description,
        "required": required,
        "properties": properties,
    })
}

/// An account as a relation shows it: its id, its email (to the account itself and
/// administrators, or to everyone under `[users] public_email = true`) and its profile fields
/// (hidden ones to the account itself and administrators), each present only when shown.
fn account_schema(schema: &Schema) -> Value {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({ "type": "string", "format": "uuid" }));
    properties.insert("email".into(), json!({ "type": "string" }));
    for field in schema.profile_fields() {
        properties.insert(
            field.name.clone(),
            field_schema(field, Direction::Read, true),
        );
    }
    json!({
        "type": "object",
        "required": ["id"],
        "properties": properties,
        "additionalProperties": false,
    })
}

/// The `expand` object of a record: related records by relation name, forward (`customer`: the
/// record it points at) and reverse (`orders_via_customer`: the records pointing at it).
fn expand_schema(schema: &Schema, collection: &Collection, names: &TypeNames) -> Value {
    let mut properties = Map::new();
    for field in &collection.fields {
        if field.kind.points_at_accounts() {
            properties.insert(
                field.name.clone(),
                json!({
                    "description": format!("The account `{}` points at (null when unset or gone).", field.name),
                    "anyOf": [account_schema(schema), { "type": "null" }],
                }),
            );
            continue;
        }
        if let FieldType::Relation {
            collection: target, ..
        } = &field.kind
            && let Some(name) = names.get(target)
        {
            properties.insert(
                field.name.clone(),
                json!({
                    "description": format!("The `{target}` record `{}` points at (null when unset).", field.name),
                    "anyOf": [schema_ref(&format!("{name}Selected")), { "type": "null" }],
                }),
            );
        }
    }
    for (source_name, source) in &schema.collections {
        for field in &source.fields {
            if let FieldType::Relation {
                collection: target, ..
            } = &field.kind
                && *target == collection.name
                && let Some(name) = names.get(source_name)
            {
                properties.insert(
                    format!("{source_name}_via_{}", field.name),
                    json!({
                        "description": format!("The `{source_name}` records whose `{}` is this record.", field.name),
                        "type": "array",
                        "items": schema_ref(&format!("{name}Selected")),
                    }),
                );
            }
        }
    }
    json!({
        "type": "object",
        "description": "Related records, present only when the request names them in `expand`.",
        "properties": properties,
    })
}

/// `{Name}Create`: the body of a create. System fields are refused; so are unknown fields.
pub fn create_schema(collection: &Collection) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in &collection.fields {
        let optional = create_optional(field);
        properties.insert(
            field.name.clone(),
            field_schema(field, Direction::Write, optional),
        );
        if !optional {
            required.push(json!(field.name));
        }
    }
    properties.insert(
        "id".into(),
        json!({
            "type": ["string", "null"],
            "format": "uuid",
            "description": "The new record's id, if the client chooses it (409 `unique_violation` if taken); left out or null, the server assigns one.",
        }),
    );
    if collection.tenant_scoped {
        // One document serves every caller, and only those reaching every tenant may name one.
        properties.insert(
            TENANT_FIELD.into(),
            json!({
                "type": "string", "minLength": 1, "maxLength": 128,
                "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]+$",
                "description": "The tenant of the new record: 1 to 128 bytes of UTF-8, no control characters. Administrators and API keys without a tenant must name it; anyone else leaves it out (their own tenant is taken) and naming one is a 400.",
            }),
        );
    }
    json!({
        "type": "object",
        "title": format!("A new record of `{}`", collection.name),
        "description": "Leave out (or send null for) an optional field to leave it unset or take its default.",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

/// `{Name}Update`: the body of a partial update; only the fields sent change.
pub fn update_schema(collection: &Collection) -> Value {
    let mut properties = Map::new();
    for field in &collection.fields {
        let mut property = field_schema(field, Direction::Write, !field.required);
        // A default applies on create only; on update it would mislead.
        if let Some(object) = property.as_object_mut() {
            object.remove("default");
        }
        properties.insert(field.name.clone(), property);
    }
    json!({
        "type": "object",
        "title": format!("Changes to a record of `{}`", collection.name),
        "description": "Only the fields sent change; null clears an optional field.",
        "properties": properties,
        "additionalProperties": false,
    })
}

/// Collection name to type name, from [`type_names`].
pub type TypeNames = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_pascal_case_and_never_collide() {
        let source = r#"
[collections.order_items]
fields.a = { type = "text" }
[collections.a_1]
fields.a = { type = "text" }
[collections.a1]
fields.a = { type = "text" }
"#;
        let schema = fathom_schema::parse_schema("t", source).unwrap();
        let names = type_names(&schema);
        assert_eq!(names["order_items"], "OrderItems");
        assert_eq!(names["a_1"], "A_1");
        assert_eq!(names["a1"], "A1");
    }

    #[test]
    fn every_example_passes_the_write_validation() {
        let source = r#"
[collections.c]
fields.code  = { type = "text", pattern = "[A-Z]{3}-[0-9]+", min_length = 7 }
fields.odd   = { type = "text", pattern = "zz[0-9]" }
fields.small = { type = "integer", min = -10, max = -5 }
fields.price = { type = "decimal", min = 100.25 }
fields.kind  = { type = "enum", values = ["b", "a"] }
"#;
        let schema = fathom_schema::parse_schema("t", source).unwrap();
        let collection = &schema.collections["c"];
        for field in &collection.fields {
            let schema = field_schema(field, Direction::Write, true);
            if let Some(example) = schema["examples"].get(0) {
                assert!(
                    validate_value(field, example).is_ok(),
                    "{}: {example}",
                    field.name
                );
            }
        }
        let code = collection.field("code").unwrap();
        assert_eq!(
            field_schema(code, Direction::Write, true)["examples"],
            json!(["ABC-123"])
        );
        let odd = collection.field("odd").unwrap();
        assert_eq!(
            field_schema(odd, Direction::Write, true).get("examples"),
            None
        );
    }
}
