//! Validation of a record body (JSON) against a collection, producing typed [`Value`]s, and the
//! conversion of stored values back to JSON.
//!
//! Every problem is reported at once, one [`FieldError`] per field, so that a form can show them
//! all. Unknown fields and Fathom's own system fields are refused rather than ignored: a typo in a
//! field name must not silently drop data.

use std::borrow::Cow;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};

use crate::model::{Collection, Field, FieldType, SYSTEM_FIELDS};
use crate::value::{Value, nfc, parse_timestamp};

/// One field's problem, with a stable machine-readable `code` and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, code: &'static str, message: String) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message,
        }
    }
}

/// What to do with one field of a body.
enum Input<'a> {
    /// Validate this JSON value.
    Validate(&'a Json),
    /// Store null.
    Null,
    /// The field needs a value and has none.
    Missing,
    /// Leave the field alone (absent from a patch).
    Skip,
}

/// Validates every field as `pick` says, reporting all problems (and unknown fields) at once.
fn validate_fields<'a>(
    collection: &'a Collection,
    body: &'a Map<String, Json>,
    pick: fn(&'a Map<String, Json>, &'a Field) -> Input<'a>,
) -> Result<Vec<(String, Value)>, Vec<FieldError>> {
    let mut errors = unknown_fields(collection, body);
    let mut values = Vec::with_capacity(collection.fields.len());
    for field in &collection.fields {
        match pick(body, field) {
            Input::Skip => {}
            Input::Null => values.push((field.name.clone(), Value::Null)),
            Input::Missing => errors.push(required_error(field)),
            Input::Validate(json) => match validate_value(field, json) {
                Ok(value) => values.push((field.name.clone(), value)),
                Err(error) => errors.push(error),
            },
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// Validates a create body: every supplied field, then defaults and required fields. An explicit
/// `null` counts as not supplied, so the default applies.
pub fn validate_create(
    collection: &Collection,
    body: &Map<String, Json>,
) -> Result<Vec<(String, Value)>, Vec<FieldError>> {
    validate_fields(collection, body, |body, field| {
        match (
            body.get(&field.name).filter(|v| !v.is_null()),
            &field.default,
        ) {
            (Some(json), _) => Input::Validate(json),
            (None, Some(default)) => Input::Validate(default),
            (None, None) if field.required => Input::Missing,
            (None, None) => Input::Null,
        }
    })
}

/// Validates a partial update: only the supplied fields; `null` clears an optional field.
pub fn validate_patch(
    collection: &Collection,
    body: &Map<String, Json>,
) -> Result<Vec<(String, Value)>, Vec<FieldError>> {
    validate_fields(collection, body, |body, field| {
        match body.get(&field.name) {
            None => Input::Skip,
            Some(Json::Null) if field.required => Input::Missing,
            Some(Json::Null) => Input::Null,
            Some(json) => Input::Validate(json),
        }
    })
}

/// The system field a client may set on create: the new record's id.
pub const CLIENT_ID_FIELD: &str = "id";

/// A validated create body: the id the client chose (if any) and the field values.
pub type NewRecord = (Option<uuid::Uuid>, Vec<(String, Value)>);

/// Validates a create body that may name the new record's `id` (a UUID, in any form the uuid
/// crate reads; stored lowercase and hyphenated). Clients that choose ids can build related
/// records before any of them is stored, and retry a create without making a duplicate (the
/// second attempt fails as a unique violation of `id`). Without `id` (or with `null`), the store
/// assigns one. Problems with `id` are reported together with the other fields'.
pub fn validate_create_with_id(
    collection: &Collection,
    body: &Map<String, Json>,
) -> Result<NewRecord, Vec<FieldError>> {
    let Some(raw) = body.get(CLIENT_ID_FIELD) else {
        return validate_create(collection, body).map(|values| (None, values));
    };
    let mut rest = body.clone();
    rest.remove(CLIENT_ID_FIELD);
    match (client_id(raw), validate_create(collection, &rest)) {
        (Ok(id), Ok(values)) => Ok((id, values)),
        (id, values) => {
            let mut errors: Vec<FieldError> = id.err().into_iter().collect();
            errors.extend(values.err().unwrap_or_default());
            Err(errors)
        }
    }
}

/// The id a client chose for a new record: a UUID string, or `null` for "assign one".
fn client_id(json: &Json) -> Result<Option<uuid::Uuid>, FieldError> {
    let expected =
        "a UUID such as 0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12 (or left out, to have one assigned)";
    match json {
        Json::Null => Ok(None),
        Json::String(text) => uuid::Uuid::parse_str(text).map(Some).map_err(|_| {
            let shown: String = text.chars().take(64).collect();
            FieldError::new(
                CLIENT_ID_FIELD,
                "invalid_format",
                format!("The field `id` must be {expected}, but got \"{shown}\"."),
            )
        }),
        other => Err(FieldError::new(
            CLIENT_ID_FIELD,
            "invalid_type",
            format!(
                "The field `id` must be {expected}, but got {}.",
                json_kind(other)
            ),
        )),
    }
}

/// Converts a stored value back to its JSON form (decimals as strings, booleans as booleans).
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::Number(n) => serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s.clone()),
        Value::Json(j) => j.clone(),
    }
}

fn unknown_fields(collection: &Collection, body: &Map<String, Json>) -> Vec<FieldError> {
    body.keys()
        .filter(|key| collection.field(key).is_none())
        .map(|key| {
            if SYSTEM_FIELDS.contains(&key.as_str()) {
                FieldError::new(
                    key,
                    "read_only",
                    format!("The field `{key}` is managed by Fathom and cannot be written; remove it from the body."),
                )
            } else {
                let known: Vec<&str> = collection.fields.iter().map(|f| f.name.as_str()).collect();
                FieldError::new(
                    key,
                    "unknown_field",
                    format!(
                        "The collection `{}` has no field `{key}`; its fields are: {}.",
                        collection.name,
                        known.join(", ")
                    ),
                )
            }
        })
        .collect()
}

fn required_error(field: &Field) -> FieldError {
    FieldError::new(
        &field.name,
        "required",
        format!("The field `{}` is required and cannot be null.", field.name),
    )
}

fn type_error(field: &Field, expected: &str, got: &Json) -> FieldError {
    FieldError::new(
        &field.name,
        "invalid_type",
        format!(
            "The field `{}` must be {expected}, but got {}.",
            field.name,
            json_kind(got)
        ),
    )
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Validates one non-null JSON value against its field's type and constraints.
pub fn validate_value(field: &Field, json: &Json) -> Result<Value, FieldError> {
    let value = match &field.kind {
        FieldType::Text => Value::Text(text_input(field, json, "a string")?.into_owned()),
        FieldType::Integer => match as_integer(json) {
            Some(i) => Value::Integer(i),
            None => return Err(type_error(field, "an integer", json)),
        },
        FieldType::Number => match json.as_f64().filter(|n| n.is_finite()) {
            Some(n) if json.is_number() => Value::Number(n),
            _ => return Err(type_error(field, "a number", json)),
        },
        FieldType::Decimal => Value::Text(parse_decimal(field, json)?.to_string()),
        FieldType::Boolean => match json.as_bool() {
            Some(b) => Value::Bool(b),
            None => return Err(type_error(field, "true or false", json)),
        },
        FieldType::Timestamp => {
            let text = as_str(field, json, "an RFC 3339 timestamp string")?;
            match parse_timestamp(text) {
                Some(at) => Value::Text(at),
                None => {
                    return Err(format_error(
                        field,
                        text,
                        "an RFC 3339 timestamp between years 0000 and 9999 (UTC) with seconds 00 to 59, such as 2026-01-31T09:30:00Z",
                    ));
                }
            }
        }
        FieldType::Date => {
            let text = as_str(field, json, "a date string")?;
            let format = time::macros::format_description!("[year]-[month]-[day]");
            match time::Date::parse(text, format) {
                Ok(_) if text.len() == 10 => Value::Text(text.to_owned()),
                _ => return Err(format_error(field, text, "a date such as 2026-01-31")),
            }
        }
        FieldType::Uuid | FieldType::Relation { .. } => {
            let text = as_str(field, json, "a UUID string")?;
            match uuid::Uuid::parse_str(text) {
                Ok(id) => Value::Text(id.hyphenated().to_string()),
                Err(_) => {
                    return Err(format_error(
                        field,
                        text,
                        "a UUID such as 0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12",
                    ));
                }
            }
        }
        FieldType::Json => {
            if holds_nul(json) {
                return Err(nul_error(field));
            }
            Value::Json(json.clone())
        }
        FieldType::Enum { values } => {
            let text = text_input(field, json, "a string")?;
            // The schema's own spelling is stored, so that the database's CHECK accepts it.
            let Some(value) = values.iter().find(|v| nfc(v) == text) else {
                return Err(FieldError::new(
                    &field.name,
                    "invalid_enum",
                    format!(
                        "The field `{}` must be one of {}, but got \"{text}\".",
                        field.name,
                        values.join(", ")
                    ),
                ));
            };
            Value::Text(value.clone())
        }
        FieldType::Email => {
            let text = text_input(field, json, "an email address")?;
            if !is_plausible_email(&text) {
                return Err(format_error(
                    field,
                    &text,
                    "an email address such as ada@example.com",
                ));
            }
            Value::Text(text.into_owned())
        }
        FieldType::Url => {
            let text = text_input(field, json, "a URL")?;
            match url::Url::parse(&text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Value::Text(text.into_owned()),
                _ => {
                    return Err(format_error(
                        field,
                        &text,
                        "an http or https URL such as https://example.com/",
                    ));
                }
            }
        }
    };
    check_constraints(field, &value)?;
    Ok(value)
}

fn as_str<'a>(field: &Field, json: &'a Json, expected: &str) -> Result<&'a str, FieldError> {
    json.as_str()
        .ok_or_else(|| type_error(field, expected, json))
}

/// A text-like value (text, enum, email, url) as stored: NUL refused, since PostgreSQL cannot
/// hold it in text and C clients would cut the string there; then in NFC (see [`nfc`]).
fn text_input<'a>(
    field: &Field,
    json: &'a Json,
    expected: &str,
) -> Result<Cow<'a, str>, FieldError> {
    let text = as_str(field, json, expected)?;
    if text.contains('\0') {
        return Err(nul_error(field));
    }
    Ok(nfc(text))
}

/// Whether a JSON value holds a NUL in any string or key (PostgreSQL's `jsonb` cannot store one).
fn holds_nul(json: &Json) -> bool {
    match json {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(holds_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Json::Null | Json::Bool(_) | Json::Number(_) => false,
    }
}

fn nul_error(field: &Field) -> FieldError {
    FieldError::new(
        &field.name,
        "invalid_character",
        format!(
            "The field `{}` contains a NUL character (U+0000), which cannot be stored; remove it.",
            field.name
        ),
    )
}

fn format_error(field: &Field, text: &str, expected: &str) -> FieldError {
    let shown: String = text.chars().take(64).collect();
    FieldError::new(
        &field.name,
        "invalid_format",
        format!(
            "The field `{}` must be {expected}, but got \"{shown}\".",
            field.name
        ),
    )
}

/// A JSON integer in the 64-bit range, or a number with no fractional part such as `3.0` (JSON
/// Schema's `integer` admits both, so the OpenAPI document does).
fn as_integer(json: &Json) -> Option<i64> {
    if let Some(i) = json.as_i64() {
        return Some(i);
    }
    // 2^63 is exactly representable, so the comparison is exact; below it every whole f64 fits.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    json.as_f64()
        .filter(|n| n.fract() == 0.0 && (-LIMIT..LIMIT).contains(n))
        .map(|n| n as i64)
}

fn parse_decimal(field: &Field, json: &Json) -> Result<Decimal, FieldError> {
    let text = match json {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => {
            return Err(type_error(
                field,
                "a decimal (a number or a numeric string)",
                other,
            ));
        }
    };
    // Exact parsing only: a value that would need rounding (more than 28 decimal places, or 29
    // significant digits) is refused rather than silently changed.
    let exact = if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text)
    } else {
        Decimal::from_str_exact(&text)
    };
    // A JSON number is a binary float to begin with, so one with more places than a decimal
    // holds (such as 1e-30) is rounded to 28 places, as PostgreSQL rounds to a column's scale;
    // a string is taken as written or refused.
    let exact = match (exact, json) {
        (Err(_), Json::Number(n)) => n
            .as_f64()
            .filter(|n| n.abs() < 1e28)
            .and_then(|n| Decimal::from_str(&format!("{n:.28}")).ok())
            .map(|d| d.normalize())
            .ok_or(()),
        (exact, _) => exact.map_err(|_| ()),
    };
    exact.map_err(|()| {
        format_error(
            field,
            &text,
            "a decimal of at most 28 decimal places, such as \"12.50\"",
        )
    })
}

fn is_plausible_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && text.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn check_constraints(field: &Field, value: &Value) -> Result<(), FieldError> {
    let c = &field.constraints;
    let number = match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::Text(t) if matches!(field.kind, FieldType::Decimal) => t.parse::<f64>().ok(),
        _ => None,
    };
    if let Some(n) = number {
        if let Some(min) = c.min.filter(|min| n < *min) {
            return Err(FieldError::new(
                &field.name,
                "too_small",
                format!("The field `{}` must be at least {min}.", field.name),
            ));
        }
        if let Some(max) = c.max.filter(|max| n > *max) {
            return Err(FieldError::new(
                &field.name,
                "too_large",
                format!("The field `{}` must be at most {max}.", field.name),
            ));
        }
    }
    if let Value::Text(text) = value
        && field.kind.is_textual()
    {
        let length = text.chars().count();
        if let Some(min) = c.min_length.filter(|min| length < *min as usize) {
            return Err(FieldError::new(
                &field.name,
                "too_short",
                format!(
                    "The field `{}` must be at least {min} characters long, but has {length}.",
                    field.name
                ),
            ));
        }
        if let Some(max) = c.max_length.filter(|max| length > *max as usize) {
            return Err(FieldError::new(
                &field.name,
                "too_long",
                format!(
                    "The field `{}` must be at most {max} characters long, but has {length}.",
                    field.name
                ),
            ));
        }
        if let Some(pattern) = &c.pattern {
            let matches = pattern_matches(pattern, text);
            if !matches {
                return Err(FieldError::new(
                    &field.name,
                    "pattern_mismatch",
                    format!(
                        "The field `{}` must match the pattern `{pattern}`.",
                        field.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Matches `text` against a schema pattern anchored to the whole value. Compiled patterns are
/// cached: the set is bounded by the schema file, and compiling on every write would be wasteful.
fn pattern_matches(pattern: &str, text: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, RwLock};
    static CACHE: LazyLock<RwLock<HashMap<String, Option<regex::Regex>>>> =
        LazyLock::new(Default::default);
    if let Ok(cache) = CACHE.read()
        && let Some(compiled) = cache.get(pattern)
    {
        return compiled.as_ref().is_some_and(|re| re.is_match(text));
    }
    let compiled = regex::Regex::new(&format!("^(?:{pattern})$")).ok();
    let matches = compiled.as_ref().is_some_and(|re| re.is_match(text));
    if let Ok(mut cache) = CACHE.write() {
        cache.insert(pattern.to_owned(), compiled);
    }
    matches
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse_schema;

    fn field(kind: &str) -> Field {
        let source = format!("[collections.c]\nfields.f = {{ type = \"{kind}\" }}\n");
        let schema = parse_schema("t", &source).expect("schema");
        schema.collections["c"].fields[0].clone()
    }

    #[test]
    fn whole_numbers_written_as_floats_are_integers() {
        let f = field("integer");
        assert_eq!(validate_value(&f, &json!(3.0)), Ok(Value::Integer(3)));
        assert_eq!(
            validate_value(&f, &json!(-1e18)),
            Ok(Value::Integer(-1_000_000_000_000_000_000))
        );
        assert!(validate_value(&f, &json!(3.5)).is_err());
        assert!(validate_value(&f, &json!(9.3e18)).is_err());
        assert!(validate_value(&f, &json!(u64::MAX)).is_err());
    }

    #[test]
    fn decimal_numbers_round_to_28_places_but_strings_stay_exact() {
        let f = field("decimal");
        let text = |json: Json| match validate_value(&f, &json) {
            Ok(Value::Text(t)) => t,
            other => panic!("{json}: {other:?}"),
        };
        assert_eq!(text(json!(12.5)), "12.5");
        assert_eq!(text(json!(1.653236621005219e-304)), "0");
        assert_eq!(text(json!(-1e-30)), "0");
        assert_eq!(text(json!(0.12345678901234568)), "0.12345678901234568");
        assert_eq!(text(json!(9.9e27)), "9900000000000000000000000000");
        assert!(validate_value(&f, &json!(1.3342221607491883e308)).is_err());
        assert!(validate_value(&f, &json!("1e-30")).is_err());
        assert!(validate_value(&f, &json!("0.00000000000000000000000000001")).is_err());
    }
}
