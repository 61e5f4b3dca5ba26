//! One field: `fields.<name> = { type = "...", ... }` or a `[collections.<c>.fields.<name>]` table.
//!
//! Keys are first checked on their own (is `min` a number, does `pattern` compile), then against
//! the field's type (is `min` allowed on a text field), so a field with an unknown type still gets
//! every type-independent problem reported.

use regex::Regex;
use toml_edit::TableLike;

use super::context::{Context, Entry};
use super::default;
use super::field_keys::{
    Bound, Got, check_bound, read_bool, read_bound, read_length, read_on_delete, read_pattern,
    read_string, read_type, read_values,
};
use super::field_rules::{
    report_inverted, report_missing, report_not_applicable, report_set_null_required,
    report_unknown_target,
};
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
    "hidden",
    "encrypted",
    "blind_index",
    super::renames::KEY,
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

    // Checks that do not depend on the type, then those that do.
    let required = read_bool(cx, scope, table, "required")
        .ok()
        .unwrap_or(false);
    let unique = read_bool(cx, scope, table, "unique").ok().unwrap_or(false);
    let hidden = read_bool(cx, scope, table, "hidden").ok().unwrap_or(false);
    let encrypted = read_bool(cx, scope, table, "encrypted")
        .ok()
        .unwrap_or(false);
    let blind_index = read_bool(cx, scope, table, "blind_index")
        .ok()
        .unwrap_or(false);
    let kind = read_type(cx, scope, entry, table);
    let kind_keys = KindKeys {
        values: read_values(cx, scope, table),
        target: read_string(cx, scope, table, "collection"),
        on_delete: read_on_delete(cx, scope, table),
    };
    let constraint_keys = ConstraintKeys {
        min: read_bound(cx, scope, table, "min"),
        max: read_bound(cx, scope, table, "max"),
        min_length: read_length(cx, scope, table, "min_length"),
        max_length: read_length(cx, scope, table, "max_length"),
        pattern: read_pattern(cx, scope, table),
    };
    let mut kind = kind?;

    let at = Place {
        scope,
        table,
        field: entry,
    };
    let complete = complete_kind(cx, &at, collections, &mut kind, required, kind_keys);
    let (constraints, anchored) = constraints_for(cx, &at, &kind, constraint_keys);

    if unique
        && kind == FieldType::Json
        && let Some(unique_entry) = Entry::get(table, "unique")
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

    super::encryption::check(
        cx,
        scope,
        table,
        &kind,
        super::encryption::Flags {
            encrypted,
            blind_index,
            unique,
        },
    );

    let default = match Entry::get(table, "default") {
        // A relation's default is wrong whatever its target, so it is reported even when the
        // target is too.
        Some(default_entry) if complete || matches!(kind, FieldType::Relation { .. }) => {
            default::check(
                cx,
                scope,
                &kind,
                &constraints,
                anchored.as_ref(),
                default_entry,
            )
        }
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
        hidden,
        encrypted,
        blind_index,
    })
}

/// The keys that complete an enum or relation type, as read on their own.
struct KindKeys {
    values: Got<Vec<String>>,
    target: Got<String>,
    on_delete: Got<OnDelete>,
}

/// The constraint keys, as read on their own.
struct ConstraintKeys {
    min: Got<Bound>,
    max: Got<Bound>,
    min_length: Got<u32>,
    max_length: Got<u32>,
    pattern: Got<(String, Regex)>,
}

/// The field being checked, for reports that point into its table.
struct Place<'a, 't> {
    scope: &'a FieldScope<'a>,
    table: &'t dyn TableLike,
    field: Entry<'t>,
}

/// Fills the enum values and relation target and action into `kind` (read with placeholders),
/// and reports those keys on types they do not apply to. Returns whether `kind` is complete
/// enough to check a default against.
fn complete_kind(
    cx: &mut Context<'_>,
    at: &Place<'_, '_>,
    collections: &[String],
    kind: &mut FieldType,
    required: bool,
    keys: KindKeys,
) -> bool {
    let Place {
        scope,
        table,
        field,
    } = *at;
    let KindKeys {
        values,
        target,
        on_delete,
    } = keys;
    let present = [
        ("values", values.is_present(), "enum"),
        ("collection", target.is_present(), "relation"),
        ("on_delete", on_delete.is_present(), "relation"),
    ];
    let mut complete = true;
    match kind {
        FieldType::Enum { values: slot } => match values {
            Got::Ok(values) => *slot = values,
            Got::Bad => complete = false,
            Got::Absent => {
                complete = false;
                report_missing(
                    cx,
                    scope,
                    table,
                    field,
                    "values",
                    "an enum field must list the values it allows",
                    "Add the allowed values, for example `values = [\"draft\", \"published\"]`.",
                );
            }
        },
        FieldType::Relation {
            collection: slot,
            on_delete: action,
        } => {
            match target {
                Got::Ok(name) => {
                    // `users` names the accounts, which every schema has; profile fields
                    // (read with no collections declared) refuse relations on their own.
                    let accounts = name == crate::model::ACCOUNTS && !collections.is_empty();
                    if !collections.contains(&name) && !accounts {
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
                        field,
                        "collection",
                        "a relation field must name the collection it refers to",
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
        _ => {}
    }
    for (key, present, applies_to) in present {
        if present && kind.name() != applies_to {
            report_not_applicable(cx, scope, table, key, kind, applies_to);
        }
    }
    complete
}

/// The constraints that apply to `kind`, and `pattern` compiled to match whole values. Reports
/// bounds and lengths the wrong way round, and constraints on types they do not apply to.
fn constraints_for(
    cx: &mut Context<'_>,
    at: &Place<'_, '_>,
    kind: &FieldType,
    keys: ConstraintKeys,
) -> (Constraints, Option<Regex>) {
    let Place { scope, table, .. } = *at;
    let ConstraintKeys {
        min,
        max,
        min_length,
        max_length,
        pattern,
    } = keys;
    let mut constraints = Constraints::default();
    if kind.is_numeric() {
        let integer = *kind == FieldType::Integer;
        constraints.min = check_bound(cx, scope, table, "min", min, integer);
        constraints.max = check_bound(cx, scope, table, "max", max, integer);
        if let (Some(low), Some(high)) = (constraints.min, constraints.max)
            && low > high
        {
            report_inverted(cx, scope, table, "min", "max");
        }
    } else {
        for (key, present) in [("min", min.is_present()), ("max", max.is_present())] {
            if present {
                report_not_applicable(cx, scope, table, key, kind, "numeric");
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
                report_not_applicable(cx, scope, table, key, kind, "textual");
            }
        }
    }
    (constraints, anchored)
}

/// Whether a declared field name can stand for a field at all: well formed and not a system
/// field's. Other places (index hints, renames) offer only such names.
pub(super) fn is_usable_field_name(name: &str) -> bool {
    is_valid_name(name) && !SYSTEM_FIELDS.contains(&name)
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
                "Remove it: {} are system fields that Fathom manages. To keep a value of your own, \
                 give it another name, for example `{}`.",
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
pub(super) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
