//! Checks a field's `default` against its type and constraints, and converts it to JSON.

use regex::Regex;
use rust_decimal::Decimal;
use serde_json::{Map, Number, Value as Json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use toml_edit::{Item, TableLike, Value};

use super::context::{Context, Entry};
use super::field::FieldScope;
use super::words::{did_you_mean, list};
use crate::model::{Constraints, FieldType};

/// What is wrong with a default, and how to fix it.
struct Problem {
    message: String,
    hint: String,
}

/// Checks the `default` entry of a field whose type (and enum values or relation target) are
/// known; returns it as JSON, or `None` after reporting what is wrong.
pub(super) fn check(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    kind: &FieldType,
    constraints: &Constraints,
    pattern: Option<&Regex>,
    entry: Entry<'_>,
) -> Option<Json> {
    let judge = Judge {
        label: scope.label(),
        shown: cx.quote(entry.value_span()),
        found: cx.found(entry.item),
        constraints,
        pattern,
    };
    match judge.check(kind, entry.item) {
        Ok(value) => Some(value),
        Err(problem) => {
            cx.report(
                entry.value_span(),
                &scope.key_path("default"),
                problem.message,
                problem.hint,
            );
            None
        }
    }
}

struct Judge<'a> {
    /// "field `products.price`".
    label: String,
    /// The default as written, such as `"draft"`.
    shown: String,
    /// "a string (`\"draft\"`)".
    found: String,
    constraints: &'a Constraints,
    pattern: Option<&'a Regex>,
}

impl Judge<'_> {
    fn check(&self, kind: &FieldType, item: &Item) -> Result<Json, Problem> {
        match kind {
            FieldType::Relation { .. } => Err(Problem {
                message: format!(
                    "The default of {} cannot be set: relation fields have no default.",
                    self.label
                ),
                hint: String::from(
                    "Remove `default`; set the reference when creating each record.",
                ),
            }),
            FieldType::Json => self.to_json(item),
            FieldType::Boolean => item.as_bool().map(Json::Bool).ok_or_else(|| {
                self.wrong("a boolean", "Write `default = true` or `default = false`.")
            }),
            FieldType::Integer => {
                let value = item.as_integer().ok_or_else(|| {
                    self.wrong(
                        "an integer",
                        "Write a whole number without quotes, such as `default = 0`.",
                    )
                })?;
                // Bounds are floating point; integers beyond 2^53 are compared approximately.
                self.within_bounds(value as f64)?;
                Ok(Json::from(value))
            }
            FieldType::Number => self.number(item, false),
            FieldType::Decimal => self.number(item, true),
            FieldType::Text | FieldType::Email | FieldType::Url | FieldType::Enum { .. } => {
                let text = item.as_str().ok_or_else(|| {
                    self.wrong("a string", "Quote the value, such as `default = \"...\"`.")
                })?;
                self.textual(kind, text)?;
                Ok(Json::String(text.to_owned()))
            }
            FieldType::Timestamp => {
                let text = self.date_text(item, "an RFC 3339 timestamp string")?;
                if time::OffsetDateTime::parse(&text, &Rfc3339).is_err() {
                    return Err(self.invalid(
                        "is not an RFC 3339 timestamp",
                        "Write a date and time with an offset, such as \
                         `default = \"2026-01-31T09:30:00Z\"`.",
                    ));
                }
                Ok(Json::String(text))
            }
            FieldType::Date => {
                let text = self.date_text(item, "a date string")?;
                let shape_ok = text.len() == 10
                    && text.bytes().enumerate().all(|(at, byte)| {
                        if at == 4 || at == 7 {
                            byte == b'-'
                        } else {
                            byte.is_ascii_digit()
                        }
                    });
                let format = format_description!("[year]-[month]-[day]");
                if !shape_ok || time::Date::parse(&text, format).is_err() {
                    return Err(self.invalid(
                        "is not a calendar date in the form YYYY-MM-DD",
                        "Write a date such as `default = \"2026-01-31\"`.",
                    ));
                }
                Ok(Json::String(text))
            }
            FieldType::Uuid => {
                let text = item.as_str().ok_or_else(|| {
                    self.wrong(
                        "a UUID string",
                        "Quote the UUID, such as \
                        `default = \"0190b5a8-7c1e-7c3a-9d2e-4f5a6b7c8d9e\"`.",
                    )
                })?;
                if uuid::Uuid::try_parse(text).is_err() {
                    return Err(self.invalid(
                        "is not a UUID",
                        "Write a hyphenated UUID, such as \
                         `default = \"0190b5a8-7c1e-7c3a-9d2e-4f5a6b7c8d9e\"`.",
                    ));
                }
                Ok(Json::String(text.to_owned()))
            }
        }
    }

    /// The default has the wrong TOML type.
    fn wrong(&self, expected: &str, hint: &str) -> Problem {
        Problem {
            message: format!(
                "The default of {} must be {expected}, but it is {}.",
                self.label, self.found
            ),
            hint: hint.to_owned(),
        }
    }

    /// The default has the right TOML type but an invalid value; `what` completes "The default
    /// `x` of field `a.b` ...".
    fn invalid(&self, what: &str, hint: &str) -> Problem {
        Problem {
            message: format!("The default `{}` of {} {what}.", self.shown, self.label),
            hint: hint.to_owned(),
        }
    }

    fn number(&self, item: &Item, decimal: bool) -> Result<Json, Problem> {
        let hint = if decimal {
            "Write a number such as `default = 9.99`, or a decimal string such as \
             `default = \"9.99\"`."
        } else {
            "Write a number without quotes, such as `default = 0`."
        };
        let (json, value) = match item {
            Item::Value(Value::Integer(value)) => {
                (Json::from(*value.value()), *value.value() as f64)
            }
            Item::Value(Value::Float(value)) => {
                let number = Number::from_f64(*value.value())
                    .ok_or_else(|| self.invalid("is not a finite number", hint))?;
                (Json::Number(number), *value.value())
            }
            Item::Value(Value::String(text)) if decimal => {
                let parsed = Decimal::from_str_exact(text.value())
                    .map_err(|_| self.invalid("is not a decimal number", hint))?;
                let value = parsed.to_string().parse::<f64>().unwrap_or(0.0);
                (Json::String(text.value().clone()), value)
            }
            _ if decimal => return Err(self.wrong("a number or a decimal string", hint)),
            _ => return Err(self.wrong("a number", hint)),
        };
        self.within_bounds(value)?;
        Ok(json)
    }

    fn within_bounds(&self, value: f64) -> Result<(), Problem> {
        if let Some(min) = self.constraints.min
            && value < min
        {
            return Err(self.invalid(
                &format!("is below its `min` of {min}"),
                &format!("Choose a default of at least {min}, or lower `min`."),
            ));
        }
        if let Some(max) = self.constraints.max
            && value > max
        {
            return Err(self.invalid(
                &format!("is above its `max` of {max}"),
                &format!("Choose a default of at most {max}, or raise `max`."),
            ));
        }
        Ok(())
    }

    /// Type-specific checks of a string default, then its length and pattern.
    fn textual(&self, kind: &FieldType, text: &str) -> Result<(), Problem> {
        match kind {
            FieldType::Email => {
                let valid = text.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && !host.is_empty() && !host.contains('@')
                });
                if !valid {
                    return Err(self.invalid(
                        "is not an email address",
                        "Write an address with exactly one `@`, such as `default = \"team@example.com\"`.",
                    ));
                }
            }
            FieldType::Url => {
                let scheme = url::Url::parse(text).map(|url| url.scheme().to_owned());
                if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                    return Err(self.invalid(
                        "is not an http or https URL",
                        "Write a full address, such as `default = \"https://example.com/\"`.",
                    ));
                }
            }
            FieldType::Enum { values } if !values.iter().any(|v| v == text) => {
                return Err(self.invalid(
                    "is not one of its values",
                    &format!("{}Use one of {}.", did_you_mean(text, values), list(values)),
                ));
            }
            _ => {}
        }
        let length = text.chars().count();
        if let Some(min) = self.constraints.min_length
            && length < min as usize
        {
            return Err(self.invalid(
                &format!("is {length} characters long, shorter than its `min_length` of {min}"),
                "Choose a longer default, or lower `min_length`.",
            ));
        }
        if let Some(max) = self.constraints.max_length
            && length > max as usize
        {
            return Err(self.invalid(
                &format!("is {length} characters long, longer than its `max_length` of {max}"),
                "Choose a shorter default, or raise `max_length`.",
            ));
        }
        if let (Some(regex), Some(source)) = (self.pattern, &self.constraints.pattern)
            && !regex.is_match(text)
        {
            return Err(self.invalid(
                &format!("does not match its `pattern` `{source}`"),
                "Choose a default that matches the whole pattern, or change the pattern.",
            ));
        }
        Ok(())
    }

    /// A date or timestamp default as text: a string, or a TOML date-time literal.
    fn date_text(&self, item: &Item, expected: &str) -> Result<String, Problem> {
        match item {
            Item::Value(Value::String(text)) => Ok(text.value().clone()),
            Item::Value(Value::Datetime(value)) => Ok(value.value().to_string()),
            _ => Err(self.wrong(
                expected,
                "Quote the value, such as `default = \"2026-01-31\"`.",
            )),
        }
    }

    /// Any TOML item as JSON, keeping key order; fails only on NaN and infinities.
    fn to_json(&self, item: &Item) -> Result<Json, Problem> {
        match item {
            Item::None => Ok(Json::Null),
            Item::Value(value) => self.value_to_json(value),
            Item::Table(table) => self.table_to_json(table),
            Item::ArrayOfTables(tables) => tables
                .iter()
                .map(|table| self.table_to_json(table))
                .collect::<Result<_, _>>()
                .map(Json::Array),
        }
    }

    fn value_to_json(&self, value: &Value) -> Result<Json, Problem> {
        Ok(match value {
            Value::String(text) => Json::String(text.value().clone()),
            Value::Integer(number) => Json::from(*number.value()),
            Value::Float(number) => {
                Json::Number(Number::from_f64(*number.value()).ok_or_else(|| {
                    self.invalid(
                        "holds a number JSON cannot represent (NaN or an infinity)",
                        "Use finite numbers only.",
                    )
                })?)
            }
            Value::Boolean(flag) => Json::Bool(*flag.value()),
            Value::Datetime(date) => Json::String(date.value().to_string()),
            Value::Array(array) => Json::Array(
                array
                    .iter()
                    .map(|v| self.value_to_json(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::InlineTable(table) => self.table_to_json(table)?,
        })
    }

    fn table_to_json(&self, table: &dyn TableLike) -> Result<Json, Problem> {
        let mut object = Map::new();
        for (key, item) in table.iter() {
            object.insert(key.to_owned(), self.to_json(item)?);
        }
        Ok(Json::Object(object))
    }
}
