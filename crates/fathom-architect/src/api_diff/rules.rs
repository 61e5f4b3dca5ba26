//! What the OpenAPI document does not show, compared on the schemas themselves: access rules
//! (who may list, view, create, update, delete), and the renames the schema declares, which the
//! documents alone would read as a removal plus an addition.

use std::collections::BTreeSet;

use fathom_schema::{Change as SchemaChange, Rule, Rules, Schema, diff};
use serde_json::{Value, json};

use super::{ApiChange, ApiChangeKind, sort};

/// The top-level conjuncts of a rule expression in canonical form, or `None` when it does not
/// parse (the schema check reports that; here the rule is then compared as text).
fn conjuncts(expression: &str) -> Option<BTreeSet<String>> {
    let parsed = fathom_query::parse(expression).ok()?;
    Some(match parsed {
        fathom_query::ast::Expr::And(parts) => parts.iter().map(ToString::to_string).collect(),
        other => [other.to_string()].into(),
    })
}

fn shown(rule: Option<&Rule>) -> Value {
    match rule {
        None => json!("administrators only"),
        Some(Rule::Public) => json!(true),
        Some(Rule::Expression(text)) => json!(text),
    }
}

/// How a rule change moves who is admitted.
fn classify(before: Option<&Rule>, after: Option<&Rule>) -> Option<ApiChangeKind> {
    use ApiChangeKind::{RuleChanged, RuleLoosened, RuleTightened};
    Some(match (before, after) {
        (a, b) if a == b => return None,
        // No rule: administrators only, the fewest callers.
        (_, None) => RuleTightened,
        (None, _) => RuleLoosened,
        (Some(Rule::Public), _) => RuleTightened,
        (_, Some(Rule::Public)) => RuleLoosened,
        (Some(Rule::Expression(a)), Some(Rule::Expression(b))) => {
            match (conjuncts(a), conjuncts(b)) {
                (Some(a), Some(b)) if a == b => return None,
                // More conditions, all the old ones kept: fewer callers.
                (Some(a), Some(b)) if b.is_superset(&a) => RuleTightened,
                (Some(a), Some(b)) if b.is_subset(&a) => RuleLoosened,
                _ => RuleChanged,
            }
        }
    })
}

/// The rule changes of every collection both schemas have (under its new name when renamed).
pub fn rule_changes(applied: &Schema, desired: &Schema) -> Vec<ApiChange> {
    let changes = diff(applied, desired);
    let old_name = |name: &str| -> String {
        changes
            .iter()
            .find_map(|c| match c {
                SchemaChange::RenameCollection { from, to } if to == name => Some(from.clone()),
                _ => None,
            })
            .unwrap_or_else(|| name.to_owned())
    };
    let mut out = Vec::new();
    for (name, collection) in &desired.collections {
        let Some(old) = applied.collection(&old_name(name)) else {
            continue;
        };
        compare_rules(name, &old.rules, &collection.rules, &mut out);
    }
    out
}

fn compare_rules(name: &str, before: &Rules, after: &Rules, out: &mut Vec<ApiChange>) {
    for operation in Rules::OPERATIONS {
        let (a, b) = (before.get(operation), after.get(operation));
        let Some(kind) = classify(a, b) else {
            continue;
        };
        let message = match kind {
            ApiChangeKind::RuleTightened => format!(
                "The `{operation}` rule admits fewer callers: some who could {operation} `{name}` records now get 403 (or see fewer records)."
            ),
            ApiChangeKind::RuleLoosened => {
                format!("The `{operation}` rule admits more callers.")
            }
            _ => format!(
                "The `{operation}` rule changed in a way that may admit fewer callers: review who it still admits."
            ),
        };
        out.push(ApiChange::new(
            kind,
            Some(name),
            format!("`{name}` {operation} rule"),
            format!("collections.{name}.rules.{operation}"),
            (shown(a), shown(b)),
            message,
        ));
    }
}

/// Merges each removal and addition of a field the schema declares a rename (`renamed_from`)
/// into one breaking rename, in place, and sorts the result. (Renamed collections are found by
/// [`super::diff_renamed`].)
pub fn name_renames(changes: &mut Vec<ApiChange>, applied: &Schema, desired: &Schema) {
    for change in diff(applied, desired) {
        let SchemaChange::RenameField {
            collection,
            from,
            to,
        } = &change
        else {
            continue;
        };
        let (from, to) = (
            format!("`{collection}.{from}`"),
            format!("`{collection}.{to}`"),
        );
        let old = changes
            .iter()
            .position(|c| c.kind == ApiChangeKind::FieldRemoved && c.subject == from);
        let before = old.map(|i| changes.remove(i));
        // A renamed field that is required on create shows up as a required one.
        let new = changes.iter().position(|c| {
            matches!(
                c.kind,
                ApiChangeKind::FieldAdded | ApiChangeKind::FieldRequired
            ) && c.subject == to
        });
        let after = new.map(|i| changes.remove(i));
        let path = after
            .as_ref()
            .or(before.as_ref())
            .map(|c| c.path.clone())
            .unwrap_or_default();
        changes.push(ApiChange::new(
            ApiChangeKind::FieldRenamed,
            Some(collection),
            format!("{from} -> {to}"),
            path,
            (json!(from.trim_matches('`')), json!(to.trim_matches('`'))),
            format!(
                "{from} is now {to}: clients using the old name break; rename in a release that keeps both (add the new field, copy, switch clients, then drop the old) to avoid it."
            ),
        ));
    }
    sort(changes);
}
