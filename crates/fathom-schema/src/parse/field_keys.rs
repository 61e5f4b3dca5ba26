//! Reading the keys of a field on their own: is `min` a number, does `pattern` compile, are
//! enum `values` distinct strings. Nothing here depends on the field's type.

use regex::Regex;
use toml_edit::{Item, TableLike, Value};

use super::context::{Context, Entry};
use super::field::{FieldScope, capitalised};
use super::words::{did_you_mean, list, ordinal};
use crate::model::{FieldType, OnDelete};

/// The outcome of reading an optional key: absent, present but already reported, or usable.
pub(super) enum Got<T> {
    Absent,
    Bad,
    Ok(T),
}

impl<T> Got<T> {
    pub(super) fn ok(self) -> Option<T> {
        match self {
            Self::Ok(value) => Some(value),
            Self::Absent | Self::Bad => None,
        }
    }

    pub(super) fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// A `min` or `max` bound as written.
#[derive(Clone, Copy)]
pub(super) struct Bound {
    value: f64,
    whole: bool,
}

pub(super) fn report_type_mismatch(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    entry: Entry<'_>,
    expected: &str,
    hint: String,
) {
    cx.report(
        entry.value_span(),
        &scope.key_path(entry.name()),
        format!(
            "`{}` of {} must be {expected}, but it is {}.",
            entry.name(),
            scope.label(),
            cx.found(entry.item)
        ),
        hint,
    );
}

pub(super) fn read_bool(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    key: &str,
) -> Got<bool> {
    let Some(entry) = Entry::get(table, key) else {
        return Got::Absent;
    };
    match entry.item.as_bool() {
        Some(value) => Got::Ok(value),
        None => {
            report_type_mismatch(
                cx,
                scope,
                entry,
                "a boolean",
                format!("Write `{key} = true` or `{key} = false`."),
            );
            Got::Bad
        }
    }
}

pub(super) fn read_string(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    key: &str,
) -> Got<String> {
    let Some(entry) = Entry::get(table, key) else {
        return Got::Absent;
    };
    match entry.item.as_str() {
        Some(value) => Got::Ok(value.to_owned()),
        None => {
            report_type_mismatch(
                cx,
                scope,
                entry,
                "a string",
                format!("Quote the value: `{key} = \"...\"`."),
            );
            Got::Bad
        }
    }
}

pub(super) fn read_type(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    field: Entry<'_>,
    table: &dyn TableLike,
) -> Option<FieldType> {
    let types = list(FieldType::NAMES);
    let Some(entry) = Entry::get(table, "type") else {
        cx.report(
            field.key_span(),
            &scope.key_path("type"),
            format!("{} has no `type`.", capitalised(&scope.label())),
            format!("Add `type = \"...\"` with one of {types}."),
        );
        return None;
    };
    let Some(name) = entry.item.as_str() else {
        report_type_mismatch(
            cx,
            scope,
            entry,
            "a string",
            format!("Write `type = \"...\"` with one of {types}."),
        );
        return None;
    };
    let kind = match name {
        "text" => FieldType::Text,
        "integer" => FieldType::Integer,
        "number" => FieldType::Number,
        "decimal" => FieldType::Decimal,
        "boolean" => FieldType::Boolean,
        "timestamp" => FieldType::Timestamp,
        "date" => FieldType::Date,
        "uuid" => FieldType::Uuid,
        "json" => FieldType::Json,
        "enum" => FieldType::Enum { values: Vec::new() },
        "relation" => FieldType::Relation {
            collection: String::new(),
            on_delete: OnDelete::default(),
        },
        "email" => FieldType::Email,
        "url" => FieldType::Url,
        _ => {
            cx.report(
                entry.value_span(),
                &scope.key_path("type"),
                format!("{} has unknown type `{name}`.", capitalised(&scope.label())),
                format!(
                    "{}Use one of {types}.",
                    did_you_mean(name, FieldType::NAMES)
                ),
            );
            return None;
        }
    };
    Some(kind)
}

pub(super) fn read_bound(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    key: &str,
) -> Got<Bound> {
    let Some(entry) = Entry::get(table, key) else {
        return Got::Absent;
    };
    let bound = match entry.item {
        // Bounds are compared as floating point; integers beyond 2^53 lose precision.
        Item::Value(Value::Integer(value)) => Bound {
            value: *value.value() as f64,
            whole: true,
        },
        Item::Value(Value::Float(value)) if value.value().is_finite() => Bound {
            value: *value.value(),
            whole: value.value().fract() == 0.0,
        },
        Item::Value(Value::Float(_)) => {
            report_type_mismatch(
                cx,
                scope,
                entry,
                "a finite number",
                format!("Write a number, for example `{key} = 0`."),
            );
            return Got::Bad;
        }
        _ => {
            report_type_mismatch(
                cx,
                scope,
                entry,
                "a number",
                format!("Write a number without quotes, for example `{key} = 0`."),
            );
            return Got::Bad;
        }
    };
    Got::Ok(bound)
}

/// Checks a bound against the field type (integer fields take whole numbers only).
pub(super) fn check_bound(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    key: &str,
    bound: Got<Bound>,
    integer: bool,
) -> Option<f64> {
    let bound = bound.ok()?;
    if integer && !bound.whole {
        if let Some(entry) = Entry::get(table, key) {
            let rounded = if key == "min" {
                bound.value.ceil()
            } else {
                bound.value.floor()
            };
            cx.report(
                entry.value_span(),
                &scope.key_path(key),
                format!(
                    "`{key}` of {} is `{}`, but the field is an integer, so its bounds must be \
                     whole numbers.",
                    scope.label(),
                    cx.quote(entry.value_span())
                ),
                format!("Write a whole number, for example `{key} = {rounded}`."),
            );
        }
        return None;
    }
    Some(bound.value)
}

pub(super) fn read_length(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    key: &str,
) -> Got<u32> {
    let Some(entry) = Entry::get(table, key) else {
        return Got::Absent;
    };
    let Some(value) = entry.item.as_integer() else {
        report_type_mismatch(
            cx,
            scope,
            entry,
            "a non-negative integer",
            format!("Write a whole number of characters, for example `{key} = 100`."),
        );
        return Got::Bad;
    };
    match u32::try_from(value) {
        Ok(length) => Got::Ok(length),
        Err(_) => {
            let problem = if value < 0 {
                "is negative"
            } else {
                "is larger than 4294967295"
            };
            cx.report(
                entry.value_span(),
                &scope.key_path(key),
                format!("`{key}` of {} {problem}: `{value}`.", scope.label()),
                format!(
                    "Write a number of characters from 0 to 4294967295, for example `{key} = 100`."
                ),
            );
            Got::Bad
        }
    }
}

/// Reads `pattern`: its source and the compiled expression anchored to match whole values.
pub(super) fn read_pattern(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
) -> Got<(String, Regex)> {
    let source = match read_string(cx, scope, table, "pattern") {
        Got::Ok(source) => source,
        Got::Absent => return Got::Absent,
        Got::Bad => return Got::Bad,
    };
    let compiled = Regex::new(&source).and_then(|_| Regex::new(&format!("^(?:{source})$")));
    match compiled {
        Ok(regex) => Got::Ok((source, regex)),
        Err(error) => {
            let entry = Entry::get(table, "pattern");
            cx.report(
                entry.and_then(|e| e.value_span()),
                &scope.key_path("pattern"),
                format!(
                    "`pattern` of {} is not a valid regular expression: {}.",
                    scope.label(),
                    regex_problem(&error)
                ),
                String::from(
                    "Fix the expression; it uses Rust `regex` syntax (https://docs.rs/regex) and the \
                     whole value must match it.",
                ),
            );
            Got::Bad
        }
    }
}

/// The one-line cause from a `regex` error, whose display draws the pattern over several lines.
pub(super) fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    let cause = text
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error:"))
        .unwrap_or(&text);
    cause
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches('.')
        .to_owned()
}

pub(super) fn read_values(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
) -> Got<Vec<String>> {
    let Some(entry) = Entry::get(table, "values") else {
        return Got::Absent;
    };
    let example = "Write `values = [\"draft\", \"published\"]`.";
    let Some(array) = entry.item.as_array() else {
        report_type_mismatch(cx, scope, entry, "an array of strings", example.to_owned());
        return Got::Bad;
    };
    if array.is_empty() {
        cx.report(
            entry.value_span(),
            &scope.key_path("values"),
            format!(
                "`values` of {} is empty, so no value would be allowed.",
                scope.label()
            ),
            format!("List at least one value. {example}"),
        );
        return Got::Bad;
    }
    let mut values: Vec<String> = Vec::new();
    let mut usable = true;
    for (at, value) in array.iter().enumerate() {
        let path = format!("{}[{at}]", scope.key_path("values"));
        match value.as_str() {
            Some(text) if values.iter().any(|v| v == text) => {
                usable = false;
                cx.report(
                    value.span(),
                    &path,
                    format!(
                        "`values` of {} lists `{text}` more than once.",
                        scope.label()
                    ),
                    String::from("Remove the repeated value."),
                );
            }
            Some(text) => values.push(text.to_owned()),
            None => {
                usable = false;
                cx.report(
                    value.span(),
                    &path,
                    format!(
                        "`values` of {} must hold only strings, but its {} entry is {}.",
                        scope.label(),
                        ordinal(at + 1),
                        cx.found(&Item::Value(value.clone()))
                    ),
                    String::from(
                        "Quote each value, for example `values = [\"draft\", \"published\"]`.",
                    ),
                );
            }
        }
    }
    if usable { Got::Ok(values) } else { Got::Bad }
}

pub(super) fn read_on_delete(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
) -> Got<OnDelete> {
    let name = match read_string(cx, scope, table, "on_delete") {
        Got::Ok(name) => name,
        Got::Absent => return Got::Absent,
        Got::Bad => return Got::Bad,
    };
    match name.as_str() {
        "restrict" => Got::Ok(OnDelete::Restrict),
        "cascade" => Got::Ok(OnDelete::Cascade),
        "set_null" => Got::Ok(OnDelete::SetNull),
        _ => {
            let span = Entry::get(table, "on_delete").and_then(|e| e.value_span());
            cx.report(
                span,
                &scope.key_path("on_delete"),
                format!(
                    "`on_delete` of {} is `{name}`, which is not a known action.",
                    scope.label()
                ),
                format!(
                    "{}Use one of {}.",
                    did_you_mean(&name, OnDelete::NAMES),
                    list(OnDelete::NAMES)
                ),
            );
            Got::Bad
        }
    }
}
