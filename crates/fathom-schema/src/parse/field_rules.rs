//! Reports of problems between a field's keys and its type: keys that do not apply to it,
//! missing keys it needs, bounds the wrong way round.

use toml_edit::TableLike;

use super::context::{Context, Entry};
use super::field::{FieldScope, capitalised};
use super::words::{did_you_mean, list};
use crate::model::FieldType;

pub(super) fn report_missing(
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
        format!("{} has no `{key}`; {why}.", capitalised(&scope.label())),
        hint.to_owned(),
    );
}

/// `key` is set, but only applies to `applies_to` fields (for example "numeric").
pub(super) fn report_not_applicable(
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

pub(super) fn report_unknown_target(
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

pub(super) fn report_set_null_required(
    cx: &mut Context<'_>,
    scope: &FieldScope<'_>,
    table: &dyn TableLike,
) {
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
pub(super) fn report_inverted(
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
