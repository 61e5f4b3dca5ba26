//! A small JSON Schema checker for the subset the document uses, so the tests can hold real
//! responses to the document without another crate.

use serde_json::Value;

/// Follows a local `$ref` (`#/components/...`), panicking if it points nowhere.
pub fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let target = reference
                .strip_prefix('#')
                .and_then(|pointer| document.pointer(pointer))
                .unwrap_or_else(|| panic!("`{reference}` does not resolve"));
            resolve(document, target)
        }
        None => value,
    }
}

/// The problems of `value` against `schema`, for the subset of JSON Schema the document uses:
/// `$ref`, `anyOf`/`oneOf`, `type` (one or a list), `enum`, `const`, `required`, `properties`,
/// `additionalProperties: false`, `items`, `minimum`/`maximum`, `minLength`/`maxLength` (in
/// characters), `minItems`/`maxItems`, and the formats `uuid`, `date-time` and `date`.
pub fn check(
    document: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    problems: &mut Vec<String>,
) {
    let schema = resolve(document, schema);
    for keyword in ["anyOf", "oneOf"] {
        if let Some(options) = schema[keyword].as_array() {
            let passing = options
                .iter()
                .filter(|option| {
                    let mut inner = Vec::new();
                    check(document, option, value, at, &mut inner);
                    inner.is_empty()
                })
                .count();
            if passing == 0 || (keyword == "oneOf" && passing > 1) {
                problems.push(format!("{at}: matches {passing} of the {keyword} options"));
            }
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        let fits = |kind: &str| match kind {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            // JSON Schema counts a number without a fractional part (`3.0`) as an integer.
            "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other}"),
        };
        if !types.iter().any(|t| fits(t)) {
            problems.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        problems.push(format!("{at}: {value} is not {constant}"));
    }
    if let (Some(text), Some(format)) = (value.as_str(), schema["format"].as_str()) {
        let shaped = |shape: &str| {
            text.len() >= shape.len()
                && text.bytes().zip(shape.bytes()).all(|(b, s)| {
                    if s == b'd' {
                        b.is_ascii_digit()
                    } else {
                        b == s
                    }
                })
        };
        let ok = match format {
            "uuid" => uuid::Uuid::parse_str(text).is_ok() && text.len() == 36,
            "date-time" => shaped("dddd-dd-ddTdd:dd:dd") && text.len() > 19,
            "date" => shaped("dddd-dd-dd") && text.len() == 10,
            _ => true,
        };
        if !ok {
            problems.push(format!("{at}: {text:?} is not a {format}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| length < min) {
            problems.push(format!("{at}: {text:?} is shorter than minLength"));
        }
        if schema["maxLength"].as_u64().is_some_and(|max| length > max) {
            problems.push(format!("{at}: {text:?} is longer than maxLength"));
        }
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as u64;
        if schema["minItems"].as_u64().is_some_and(|min| count < min) {
            problems.push(format!("{at}: fewer than minItems items"));
        }
        if schema["maxItems"].as_u64().is_some_and(|max| count > max) {
            problems.push(format!("{at}: more than maxItems items"));
        }
    }
    if let Some(number) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| number < min) {
            problems.push(format!("{at}: {number} is below the minimum"));
        }
        if schema["maximum"].as_f64().is_some_and(|max| number > max) {
            problems.push(format!("{at}: {number} is above the maximum"));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap();
            if !object.contains_key(key) {
                problems.push(format!("{at}: `{key}` is missing"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(document, property, item, &format!("{at}.{key}"), problems),
                None if schema["additionalProperties"] == false => {
                    problems.push(format!("{at}: `{key}` is not allowed"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(document, item_schema, item, &format!("{at}[{i}]"), problems);
        }
    }
}

pub fn problems(document: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(document, schema, value, "$", &mut out);
    out
}
