//! The indexes a collection has, judged: one whose keys lead another's (redundant: the
//! longer one serves every read it serves), one no recorded read uses (unused: PostgreSQL's
//! `idx_scan` since the statistics were reset, or on SQLite no recorded shape's plan reads
//! it), and a relation whose referencing field leads no index (each delete of a target
//! record then scans the referencing table).

use std::collections::HashSet;

use fathom_schema::{Collection, FieldType, Index, TENANT_FIELD};
use fathom_store::{IndexScans, Store};
use serde_json::json;

use super::patch;
use crate::{Change, Finding, FindingKind, Severity};

/// An index's keys as the schema file declares them (`-field` kept descending): without the
/// tenant column the store adds.
fn declared_fields(collection: &Collection, index: &Index) -> Vec<String> {
    let mut keys = index.declared_keys();
    if collection.tenant_scoped && index.fields.first().is_some_and(|f| f == TENANT_FIELD) {
        keys.remove(0);
    }
    keys
}

/// Whether the schema file declares the index in `indexes` (rather than the store implying it
/// from a unique field, a relation or the tenant column).
fn is_declared(collection: &Collection, index: &Index) -> bool {
    let keys = declared_fields(collection, index);
    collection
        .indexes
        .iter()
        .any(|i| i.declared_keys() == keys && i.unique == index.unique)
}

fn removal(store: &Store, collection: &Collection, index: &Index) -> Change {
    let fields = patch::fields_array(&declared_fields(collection, index));
    let advice = if is_declared(collection, index) {
        format!(
            "Remove {fields} from `indexes` of [collections.{}] in the schema file, then run `fathom migrate plan` and `fathom migrate apply`.",
            collection.name
        )
    } else {
        format!(
            "The index on {fields} is implied by the schema (a unique field, a relation or the tenant column); declaring the longer index first in `indexes` lets the store leave it out."
        )
    };
    Change {
        schema_patch: None,
        sql: vec![store.drop_index_sql(index)],
        advice,
    }
}

/// Indexes whose keys (on this database) are a prefix of another index's keys, or equal to
/// them. A unique index enforces a constraint, so it is redundant only beside an identical
/// unique one.
pub fn redundant(indexes: &[Index], keys: impl Fn(&Index) -> Vec<String>) -> Vec<(Index, Index)> {
    let mut out = Vec::new();
    for (n, index) in indexes.iter().enumerate() {
        let own = keys(index);
        let wider = indexes.iter().enumerate().find(|(m, other)| {
            let theirs = keys(other);
            // Of two indexes with the same keys on this database, the one declared with
            // fewer fields goes (on PostgreSQL `(a)` is `(a, id)`), or else the later one.
            let dropped_of_twins = index.fields.len() < other.fields.len()
                || (index.fields.len() == other.fields.len() && *m < n);
            *m != n
                && theirs.starts_with(&own)
                && (!index.unique || (other.unique && theirs == own))
                && (theirs != own || dropped_of_twins)
        });
        if let Some((_, wider)) = wider {
            out.push((index.clone(), wider.clone()));
        }
    }
    out
}

/// The relation fields of `collection` that lead no index of `indexes` (after the tenant
/// column on a tenant-scoped collection).
pub fn unindexed_relations(collection: &Collection, indexes: &[Index]) -> Vec<String> {
    collection
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldType::Relation { .. }))
        .filter(|f| {
            !indexes.iter().any(|i| {
                let mut fields = i.fields.iter();
                let mut first = fields.next();
                if collection.tenant_scoped && first.is_some_and(|f| f == TENANT_FIELD) {
                    first = fields.next();
                }
                first == Some(&f.name)
            })
        })
        .map(|f| f.name.clone())
        .collect()
}

/// Whether an index is worth judging as unused: unique indexes enforce a constraint, indexes
/// led by a relation serve the deletes of its targets, and the tenant index every read.
fn judged_for_use(collection: &Collection, index: &Index) -> bool {
    let fields = declared_fields(collection, index);
    !index.unique
        && !fields.is_empty()
        && !collection
            .field(&fields[0])
            .is_some_and(|f| matches!(f.kind, FieldType::Relation { .. }))
}

/// Findings about the indexes of one collection. `used` holds the indexes the recorded
/// shapes' plans read; `scans` PostgreSQL's counts (None on SQLite); `observed` whether any
/// read of the collection was recorded (without one, idle and unused look alike).
pub fn findings(
    store: &Store,
    collection: &Collection,
    used: &HashSet<String>,
    scans: Option<&[IndexScans]>,
    observed: bool,
) -> Vec<Finding> {
    let indexes = collection.effective_indexes();
    let mut out = Vec::new();
    for (index, wider) in redundant(&indexes, |i| store.index_keys(i)) {
        out.push(Finding {
            kind: FindingKind::RedundantIndex,
            severity: Severity::Warning,
            collection: Some(collection.name.clone()),
            title: format!(
                "`{}`: the index {} is redundant: {} serves every read it serves",
                collection.name,
                patch::fields_array(&declared_fields(collection, &index)),
                patch::fields_array(&declared_fields(collection, &wider)),
            ),
            evidence: json!({
                "index": index.name,
                "keys": store.index_keys(&index),
                "covered_by": wider.name,
                "covered_by_keys": store.index_keys(&wider),
            }),
            gain: Some("one index less to write on every insert and update".into()),
            change: removal(store, collection, &index),
        });
    }
    if observed {
        for index in indexes.iter().filter(|i| judged_for_use(collection, i)) {
            let evidence = match scans {
                Some(scans) => match scans.iter().find(|s| s.name == index.name) {
                    Some(s) if s.scans == 0 => json!({"index": index.name, "idx_scan": 0}),
                    _ => continue,
                },
                None if used.contains(&index.name) => continue,
                None => json!({"index": index.name, "read_by_recorded_shapes": 0}),
            };
            out.push(Finding {
                kind: FindingKind::UnusedIndex,
                severity: Severity::Info,
                collection: Some(collection.name.clone()),
                title: format!(
                    "`{}`: no recorded read uses the index {}",
                    collection.name,
                    patch::fields_array(&declared_fields(collection, index))
                ),
                evidence,
                gain: Some("one index less to write on every insert and update".into()),
                change: removal(store, collection, index),
            });
        }
    }
    for field in unindexed_relations(collection, &indexes) {
        let fields = vec![field.clone()];
        let mut effective = Vec::new();
        if collection.tenant_scoped {
            effective.push(TENANT_FIELD.to_owned());
        }
        effective.push(field.clone());
        let index = Index::new(&collection.name, effective, false);
        out.push(Finding {
            kind: FindingKind::UnindexedRelation,
            severity: Severity::Warning,
            collection: Some(collection.name.clone()),
            title: format!(
                "`{}`: the relation `{field}` has no index on its referencing side",
                collection.name
            ),
            evidence: json!({ "field": field }),
            gain: Some(
                "deleting a target record looks up its references by index instead of scanning"
                    .into(),
            ),
            change: Change {
                schema_patch: Some(patch::add_index(&collection.name, &fields)),
                sql: vec![store.index_sql(collection, &index)],
                advice: format!(
                    "Add the index [\"{field}\"] to `{}` in the schema file, then migrate.",
                    collection.name
                ),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(source: &str) -> Collection {
        let schema = fathom_schema::parse_schema("schema.toml", source).expect("schema");
        schema.collection("tasks").expect("tasks").as_ref().clone()
    }

    const TASKS: &str = "[collections.projects]\nfields.name = { type = \"text\" }\n[collections.tasks]\nfields.team = { type = \"text\" }\nfields.priority = { type = \"integer\" }\nfields.project = { type = \"relation\", collection = \"projects\" }\n";

    #[test]
    fn a_prefix_of_another_index_is_redundant() {
        let tasks = collection(&format!(
            "{TASKS}indexes = [[\"team\"], [\"team\", \"priority\"], [\"priority\"]]\n"
        ));
        let indexes = tasks.effective_indexes();
        let found = redundant(&indexes, |i| i.fields.clone());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.fields, ["team"]);
        assert_eq!(found[0].1.fields, ["team", "priority"]);
        assert!(is_declared(&tasks, &found[0].0));
    }

    #[test]
    fn of_two_identical_indexes_one_is_redundant_and_unique_ones_stay() {
        let tasks = collection(&format!(
            "{TASKS}indexes = [[\"team\", \"priority\"], {{ fields = [\"team\"], unique = true }}]\n"
        ));
        let indexes = tasks.effective_indexes();
        // With `id` appended, as on PostgreSQL: `(team, priority, id)` twice would be the
        // same keys; here the unique `(team)` is a prefix but enforces a constraint.
        let found = redundant(&indexes, |i| i.fields.clone());
        assert!(found.is_empty(), "{found:?}");
        let doubled = vec![indexes[0].clone(), indexes[0].clone()];
        assert_eq!(redundant(&doubled, |i| i.fields.clone()).len(), 1);
        // With `id` appended to every non-unique index, as PostgreSQL builds them, `(team,
        // priority)` and `(team, priority, id)` are twins: the shorter declaration goes.
        let twins = vec![
            Index::new("tasks", vec!["team".into(), "priority".into()], false),
            Index::new(
                "tasks",
                vec!["team".into(), "priority".into(), "id".into()],
                false,
            ),
        ];
        let with_id = |i: &Index| {
            let mut keys = i.fields.clone();
            if keys.last().is_none_or(|k| k != "id") {
                keys.push("id".into());
            }
            keys
        };
        let found = redundant(&twins, with_id);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.fields, ["team", "priority"]);
    }

    #[test]
    fn a_relation_without_an_index_is_found() {
        let tasks = collection(TASKS);
        let indexes = tasks.effective_indexes();
        assert!(
            unindexed_relations(&tasks, &indexes).is_empty(),
            "relations get an index by default"
        );
        let without: Vec<Index> = indexes
            .into_iter()
            .filter(|i| i.fields.first().is_none_or(|f| f != "project"))
            .collect();
        assert_eq!(unindexed_relations(&tasks, &without), ["project"]);
    }
}
