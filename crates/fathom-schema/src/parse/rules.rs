//! The `rules` table of a collection: one entry per operation, either `true` (anyone) or an
//! expression string. The expression's syntax and types are checked where the expression
//! language lives (at start-up and by `fathom schema check`); here only the shape.

use super::context::{Context, Entry};
use super::words::{did_you_mean, list};
use crate::model::{Rule, Rules};

/// Reads `rules`; problems are reported, and a broken entry is left out (deny).
pub(super) fn read_rules(
    cx: &mut Context<'_>,
    path: &str,
    collection: &str,
    entry: Entry<'_>,
) -> Rules {
    let mut rules = Rules::default();
    let Some(table) = entry.item.as_table_like() else {
        cx.report(
            entry.value_span(),
            &format!("{path}.rules"),
            format!(
                "`rules` in collection `{collection}` must be a table, but it is {}.",
                cx.found(entry.item)
            ),
            "Write `rules = { list = true, view = true, create = \"auth.id != null\" }`."
                .to_owned(),
        );
        return rules;
    };
    for rule in Entry::all(table) {
        let key_path = format!("{path}.rules.{}", rule.name());
        let Some(operation) = Rules::OPERATIONS
            .iter()
            .copied()
            .find(|o| *o == rule.name())
        else {
            let operation = rule.name();
            cx.report(
                rule.key_span(),
                &key_path,
                format!("Unknown operation `{operation}` in the rules of `{collection}`."),
                format!(
                    "{}The operations are {}.",
                    did_you_mean(operation, Rules::OPERATIONS),
                    list(Rules::OPERATIONS)
                ),
            );
            continue;
        };
        let value = match (rule.item.as_bool(), rule.item.as_str()) {
            (Some(true), _) => Some(Rule::Public),
            // `false` says in words what leaving the rule out means: administrators only.
            (Some(false), _) => None,
            (_, Some(text)) if !text.trim().is_empty() => {
                cx.note_rule(collection, operation, &key_path, text, rule.value_span());
                Some(Rule::Expression(text.to_owned()))
            }
            _ => {
                cx.report(
                    rule.value_span(),
                    &key_path,
                    format!("The `{operation}` rule of `{collection}` must be true, false or an expression, but it is {}.", cx.found(rule.item)),
                    "Write `true` for anyone, leave it out for administrators only, or an expression such as \"owner = auth.id\".".to_owned(),
                );
                None
            }
        };
        match operation {
            "list" => rules.list = value,
            "view" => rules.view = value,
            "create" => rules.create = value,
            "update" => rules.update = value,
            _ => rules.delete = value,
        }
    }
    rules
}
