//! One field: `fields.<name> = { type = "...", ... }` or a `[collections.<c>.fields.<name>]` table.
//!
//! Keys are first checked on their own (is `min` a number, does `pattern` compile), then against
//! the field's type (is `min` allowed on a text field), so a field with an unknown type still gets
//! every type-independent problem reported.

use regex::Regex;
use toml_edit::{Item, TableLike, Value};

use super::context::{Context, Entry};
use super::default;
use super::words::{did_you_mean, is_valid_name, list, rewrite_name};
use crate::model::{Constraints, Field, FieldType, OnDelete, SYSTEM_FIELDS};

const FIELD_KEYS: &[&str] = &[
    "type",
    "required",
    "unique",
    "default",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "values",
    "collection",
    "on_delete",
];

/// Which field is being read, for paths and messages.
pub(super) struct FieldScope<'a> {
    pub(super) collection: &'a str,
    pub(super) name: &'a str,
    /// `collections.<collection>.fields.<name>`.
    pub(super) path: String,
}

impl<'a> FieldScope<'a> {
    pub(super) fn new(collection: &'a str, name: &'a str) -> Self {
        Self {
            collection,
            name,
            path: format!("collections.{collection}.fields.{name}"),
        }
    }

    /// "field `products.price`".
    pub(super) fn label(&self) -> String {
        format!("field `{}.{}`", self.collection, self.name)
    }

    pub(super) fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

/// The outcome of reading an optional key: absent, present but already reported, or usable.
enum Got<T> {
    Absent,
    Bad,
    Ok(T),
}

impl<T> Got<T> {
    fn ok(self) -> Option<T> {
        match self {
            Self::Ok(value) => Some(value),
            Self::Absent | Self::Bad => None,
        }
    }

    fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// A `min` or `max` bound as written.
#[derive(Clone, Copy)]
struct Bound {
    value: f64,
    whole: bool,
}

/// Reads one field; `None` when it has any problem (all of which are reported).
pub(super) fn read_field(
    cx: &mut Context<'_>,
    collections: &[String],
    scope: &FieldScope<'_>,
    entry: Entry<'_>,
) -> Option<Field> {
    let errors_before = cx.error_count();
    check_field_name(cx, scope, entry);

    let Some(table) = entry.item.as_table_like() else {
        let example = match entry.item.as_str() {
            Some(kind) if FieldType::NAMES.contains(&kind) => format!("{{ type = \"{kind}\" }}"),
            _ => String::from("{ type = \"text\" }"),
        };
        cx.report(
            entry.value_span(),
            &scope.path,
            format!(
                "{} must be a table such as `{example}`, but it is {}.",
                capitalised(&scope.label()),
                cx.found(entry.item)
            ),
            format!("Write `fields.{} = {example}`.", scope.name),
        );
        return None;
    };

    for key in Entry::all(table) {
        if !FIELD_KEYS.contains(&key.name()) {
            cx.report(
                key.key_span(),
                &scope.key_path(key.name()),
                format!("Unknown key `{}` in {}.", key.name(), scope.label()),
                format!(
                    "{}Allowed keys are {}.",
                    did_you_mean(key.name(), FIELD_KEYS),
                    list(FIELD_KEYS)
                ),
            );
        }
    }

    // Checks that do not depend on the type.
    let required = read_bool(cx, scope, table, "required")
        .ok()
        .unwrap_or(false);
    let unique = read_bool(cx, scope, table, "unique").ok().unwrap_or(false);
    let kind = read_type(cx, scope, entry, table);
    let min = read_bound(cx, scope, table, "min");
    let max = read_bound(cx, scope, table, "max");
    let min_length = read_length(cx, scope, table, "min_length");
    let max_length = read_length(cx, scope, table, "max_length");
    let pattern = read_pattern(cx, scope, table);
    let values = read_values(cx, scope, table);
    let target = read_string(cx, scope, table, "collection");
    let on_delete = read_on_delete(cx, scope, table);

    let mut kind = kind?;

    // Checks against the type. `kind` holds placeholders for enum values and relation targets
    // until they are filled in here.
    let mut complete = true;
    match &mut kind {
        FieldType::Enum { values: slot } => match values {
            Got::Ok(values) => *slot = values,
            Got::Bad => complete = false,
            Got::Absent => {
                complete = false;
                report_missing(
                    cx,
                    scope,
                    table,
                    entry,
                    "values",
                    "an enum field lists its values",
                    "Add the allowed values, for example `values = [\"draft\", \"published\"]`.",
                );
            }
        },
        other => {
            if values.is_present() {
                report_not_applicable(cx, scope, table, "values", other, "enum");
            }
        }
    }
    match &mut kind {
        FieldType::Relation {
            collection: slot,
            on_delete: action,
        } => {
            match target {
                Got::Ok(name) => {
                    if !collections.contains(&name) {
                        complete = false;
                        report_unknown_target(cx, scope, table, collections, &name);
                    }
                    *slot = name;
                }
                Got::Bad => complete = false,
                Got::Absent => {
                    complete = false;
                    report_missing(
                        cx,
                        scope,
                        table,
                        entry,
                        "collection",
                        "a relation field names the collection it refers to",
                        &format!(
                            "Add `collection = \"<name>\"`; the declared collections are {}.",
                            list(collections)
                        ),
                    );
                }
            }
            if let Got::Ok(chosen) = on_delete {
                *action = chosen;
                if chosen == OnDelete::SetNull && required {
                    report_set_null_required(cx, scope, table);
                }
            }
        }
        other => {
            for (key, present) in [
                ("collection", target.is_present()),
                ("on_delete", on_delete.is_present()),
            ] {
                if present {
                    report_not_applicable(cx, scope, table, key, other, "relation");
                }
            }
        }
    }

    let mut constraints = Constraints::default();
    if kind.is_numeric() {
        let integer = kind == FieldType::Integer;
        constraints.min = check_bound(cx, scope, table, "min", min, integer);
        constraints.max = check_bound(cx, scope, table, "max", max, integer);
        if let (Some(low), Some(high)) = (constraints.min, constraints.max)
            && low > high
        {
            report_inverted(cx, scope, table, "min", "max");
        }
    } else {
        for (key, bound) in [("min", &min), ("max", &max)] {
            if bound.is_present() {
                report_not_applicable(cx, scope, table, key, &kind, "numeric");
            }
        }
    }
    let mut anchored = None;
    if kind.is_textual() {
        constraints.min_length = min_length.ok();
        constraints.max_length = max_length.ok();
        if let (Some(low), Some(high)) = (constraints.min_length, constraints.max_length)
            && low > high
        {
            report_inverted(cx, scope, table, "min_length", "max_length");
        }
        if let Got::Ok((source, regex)) = pattern {
            constraints.pattern = Some(source);
            anchored = Some(regex);
        }
    } else {
        for (key, present) in [
            ("min_length", min_length.is_present()),
            ("max_length", max_length.is_present()),
            ("pattern", pattern.is_present()),
        ] {
            if present {
                report_not_applicable(cx, scope, table, key, &kind, "textual");
            }
        }
    }

    if unique
        && kind == FieldType::Json
        && let Some(unique_entry) = Entry::get(table, "unique")
    {
        {
            cx.report(
                unique_entry.key_span(),
                &scope.key_path("unique"),
                format!(
                    "{} is of type `json`, which cannot be `unique`.",
                    capitalised(&scope.label())
                ),
                String::from(
                    "Remove `unique = true`; JSON documents are not compared for uniqueness. Keep \
                     the value that must be unique in a field of its own, such as a `text` field.",
                ),
            );
        }
    }

    let default = match Entry::get(table, "default") {
        Some(default_entry) if complete => default::check(
            cx,
            scope,
            &kind,
            &constraints,
            anchored.as_ref(),
            default_entry,
        ),
        _ => None,
    };

    if cx.error_count() > errors_before {
        return None;
    }
    Some(Field {
        name: scope.name.to_owned(),
        kind,
        required,
        unique,
        default,
        constraints,
    })
}

/// Reports a field name that is malformed or taken; at most one problem per name.
fn check_field_name(cx: &mut Context<'_>, scope: &FieldScope<'_>, entry: Entry<'_>) {
    let name = scope.name;
    let label = capitalised(&scope.label());
    let (message, hint) = if name.starts_with('_') {
        (
            format!(
                "Field name `{name}` in collection `{}` starts with an underscore, which is \
                 reserved for system fields.",
                scope.collection
            ),
            format!(
                "Rename it without the underscore, for example to `{}`.",
                suggest_name(name)
            ),
        )
    } else if !is_valid_name(name) {
        (
            format!(
                "Field name `{name}` in collection `{}` is not a valid name: names start with a \
                 lowercase letter and contain only lowercase letters, digits and underscores, at \
                 most 63 in all.",
                scope.collection
            ),
            format!("Rename it, for example to `{}`.", suggest_name(name)),
        )
    } else if SYSTEM_FIELDS.contains(&name) {
        (
            format!("{label} has the name of a system field."),
            format!(
                "Remove it: {} are provided automatically on every record. To keep a value of your \
                 own, give it another name, for example `{}`.",
                list(SYSTEM_FIELDS),
                suggest_name(name)
            ),
        )
    } else {
        return;
    };
    cx.report(entry.key_span(), &scope.path, message, hint);
}

fn suggest_name(name: &str) -> String {
    let rewritten = rewrite_name(name, "field");
    if SYSTEM_FIELDS.contains(&rewritten.as_str()) {
        format!("my_{rewritten}")
    } else {
        rewritten
    }
}

/// "Field `a.b`" from "field `a.b`".
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn report_type_mismatch(
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

fn read_bool(
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

fn read_string(
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

fn read_type(
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

fn read_bound(
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
fn check_bound(
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

fn read_length(
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
fn read_pattern(
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
fn regex_problem(error: &regex::Error) -> String {
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

fn read_values(
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
                        "`values` of {} must hold only strings, but value {} is {}.",
                        scope.label(),
                        at + 1,
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

fn read_on_delete(
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

fn report_missing(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    field: Entry<'_>,
    key: &str,
    why: &str,
    hint: &str,
) {
    // Point at the `type` that makes the key necessary.
    let span = Entry::get(table, "type")
        .and_then(|e| e.value_span())
        .or_else(|| field.key_span());
    cx.report(
        span,
        &scope.key_path(key),
        format!("{} has no `{key}`, but {why}.", capitalised(&scope.label())),
        hint.to_owned(),
    );
}

/// `key` is set, but only applies to `applies_to` fields (for example "numeric").
fn report_not_applicable(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    key: &str,
    kind: &FieldType,
    applies_to: &str,
) {
    let Some(entry) = Entry::get(table, key) else {
        return;
    };
    let types: Vec<&str> = FieldType::NAMES
        .iter()
        .copied()
        .filter(|name| match applies_to {
            "numeric" => ["integer", "number", "decimal"].contains(name),
            "textual" => ["text", "email", "url", "enum"].contains(name),
            other => *name == other,
        })
        .collect();
    let alternative = match key {
        "min" | "max" if kind.is_textual() => {
            format!(" Use `{key}_length` to bound the length of text.")
        }
        "min_length" | "max_length" if kind.is_numeric() => {
            format!(
                " Use `{}` to bound the value.",
                key.trim_end_matches("_length")
            )
        }
        _ => String::new(),
    };
    cx.report(
        entry.key_span(),
        &scope.key_path(key),
        format!(
            "`{key}` only applies to {applies_to} fields ({}), but {} is of type `{}`.",
            list(&types),
            scope.label(),
            kind.name()
        ),
        format!("Remove `{key}`, or change the type.{alternative}"),
    );
}

fn report_unknown_target(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    collections: &[String],
    target: &str,
) {
    let span = Entry::get(table, "collection").and_then(|e| e.value_span());
    cx.report(
        span,
        &scope.key_path("collection"),
        format!(
            "{} refers to collection `{target}`, which this file does not declare.",
            capitalised(&scope.label())
        ),
        format!(
            "{}Name one of the declared collections: {}.",
            did_you_mean(target, collections),
            list(collections)
        ),
    );
}

fn report_set_null_required(cx: &mut Context<'_>, scope: &FieldScope<'_>, table: &dyn TableLike) {
    let span = Entry::get(table, "on_delete").and_then(|e| e.value_span());
    cx.report(
        span,
        &scope.key_path("on_delete"),
        format!(
            "{} is required, so `on_delete = \"set_null\"` could not clear it.",
            capitalised(&scope.label())
        ),
        String::from(
            "Remove `required = true`, or choose `on_delete = \"restrict\"` or `\"cascade\"`.",
        ),
    );
}

/// `low` is greater than `high`; points at `high`.
fn report_inverted(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
    low: &str,
    high: &str,
) {
    let low_text = cx.quote(Entry::get(table, low).and_then(|e| e.value_span()));
    let high_span = Entry::get(table, high).and_then(|e| e.value_span());
    let high_text = cx.quote(high_span.clone());
    cx.report(
        high_span,
        &scope.key_path(high),
        format!(
            "`{low}` of {} ({low_text}) is greater than its `{high}` ({high_text}).",
            scope.label()
        ),
        format!("Make `{low}` at most `{high}`; perhaps the two are swapped."),
    );
}
