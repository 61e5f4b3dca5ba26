//! The index a query shape asks for: its equality fields, then its sort keys (ending with the
//! `id` tiebreaker every sort ends with; each key in the sort's own direction when the order
//! runs both ways), or, when it sorts by `id` alone, its first range field; and whether an
//! index the collection has already serves it.

use fathom_schema::{Collection, Index, TENANT_FIELD};
use fathom_store::shapes::{QueryShape, ShapeKind};

/// Operators an index serves as a lookup of one key.
const EQUALITY: &[&str] = &["=", "is null"];
/// Operators an index serves as a range of keys.
const RANGE: &[&str] = &["<", "<=", ">", ">=", "in"];

/// A candidate index: as the schema file would declare it (`declared`, without the tenant
/// column, a descending key written `-field`) and as the migration builds it (`effective`,
/// with it on tenant-scoped collections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub declared: Vec<String>,
    pub effective: Index,
}

/// Whether `path` names a column of the collection's own table (not a relation hop).
fn own_column(collection: &Collection, path: &str) -> bool {
    matches!(path, "id" | "version")
        || (collection.timestamps && matches!(path, "created_at" | "updated_at"))
        || collection.field(path).is_some()
}

/// The index that serves `shape` on `collection`, or `None` when no index would (a get by
/// id, a filter with nothing an index can look up and no sort to serve).
pub fn candidate(collection: &Collection, shape: &QueryShape) -> Option<Candidate> {
    if shape.kind == ShapeKind::Get {
        return None;
    }
    let mut fields: Vec<String> = Vec::new();
    let push = |fields: &mut Vec<String>, path: &str| {
        if !fields.iter().any(|f| f == path) {
            fields.push(path.to_owned());
        }
    };
    // Only a conjunction's conditions all hold for every row read: under `||` or `!`, no
    // single condition may lead the index.
    let usable = |ops: &[&str]| -> Vec<&str> {
        if !shape.conjunctive {
            return Vec::new();
        }
        shape
            .conditions
            .iter()
            .filter(|c| ops.contains(&c.op.as_str()) && own_column(collection, &c.path))
            .map(|c| c.path.as_str())
            .collect()
    };
    for path in usable(EQUALITY) {
        push(&mut fields, path);
    }
    let equalities = fields.len();
    let sort: Vec<&str> = if shape.kind == ShapeKind::List {
        shape
            .sort
            .iter()
            .map(|s| s.path.as_str())
            .filter(|p| *p != "id")
            .collect()
    } else {
        Vec::new()
    };
    let mut descending: Vec<String> = Vec::new();
    if !sort.is_empty() {
        if !sort.iter().all(|p| own_column(collection, p)) {
            return None;
        }
        // A key fixed by an equality needs no place in the order; the rest do, then `id`. An
        // index is read forwards or backwards, so an order that runs one way is served by
        // ascending keys. A mixed order (`-priority` then `id` ascending, the default
        // tiebreaker) needs each key kept in the sort's own direction, unless the order is
        // mixed only at `id` after a key with next to no ties (a timestamp, a unique field):
        // then the ascending index serves it and the database sorts the odd tie.
        let one_way = shape
            .sort
            .windows(2)
            .all(|pair| pair[0].descending == pair[1].descending);
        let directed = !one_way && !mixed_only_after_a_near_unique_key(collection, shape);
        for key in shape.sort.iter().filter(|k| k.path != "id") {
            if !fields[..equalities].contains(&key.path) {
                push(&mut fields, &key.path);
                if directed && key.descending {
                    descending.push(key.path.clone());
                }
            }
        }
        if one_way || directed {
            push(&mut fields, "id");
        }
        let id_descending = shape
            .sort
            .iter()
            .find(|k| k.path == "id")
            .is_some_and(|k| k.descending);
        if directed && id_descending {
            descending.push("id".to_owned());
        }
    } else if let Some(range) = usable(RANGE)
        .into_iter()
        .find(|p| !fields.iter().any(|f| f == p))
    {
        push(&mut fields, range);
    } else if shape.kind == ShapeKind::List && !fields.is_empty() {
        push(&mut fields, "id");
    }
    if fields.is_empty() || fields == ["id"] {
        return None;
    }
    let mut effective = Vec::new();
    if collection.tenant_scoped {
        effective.push(TENANT_FIELD.to_owned());
    }
    effective.extend(fields.iter().cloned());
    let declared = Index::ordered(&collection.name, fields, descending.clone(), false);
    Some(Candidate {
        effective: Index::ordered(&collection.name, effective, descending, false),
        declared: declared.declared_keys(),
    })
}

/// Whether the sort's keys other than `id` run one way and the last of them has next to no
/// ties (`created_at`, `updated_at`, a unique field), so that only `id`'s direction differs
/// and hardly ever decides an order.
fn mixed_only_after_a_near_unique_key(collection: &Collection, shape: &QueryShape) -> bool {
    let keys: Vec<_> = shape.sort.iter().filter(|k| k.path != "id").collect();
    let one_way = keys
        .windows(2)
        .all(|pair| pair[0].descending == pair[1].descending);
    one_way
        && keys.last().is_some_and(|last| {
            matches!(last.path.as_str(), "created_at" | "updated_at")
                || collection.field(&last.path).is_some_and(|f| f.unique)
        })
}

/// The existing index whose leading keys are the candidate's keys, if any (`keys` gives an
/// index's keys on the database at hand).
pub fn served_by<'i>(
    existing: &'i [Index],
    candidate: &Index,
    keys: impl Fn(&Index) -> Vec<String>,
) -> Option<&'i Index> {
    let wanted = keys(candidate);
    existing
        .iter()
        .find(|index| keys(index).starts_with(&wanted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_store::shapes::{Condition, SortShape};

    fn tasks(tenant_scoped: bool) -> Collection {
        let source = format!(
            "[collections.tasks]\ntenant_scoped = {tenant_scoped}\nfields.team = {{ type = \"text\" }}\nfields.priority = {{ type = \"integer\" }}\nfields.title = {{ type = \"text\" }}\n"
        );
        let schema = fathom_schema::parse_schema("schema.toml", &source).expect("schema");
        schema.collection("tasks").expect("tasks").as_ref().clone()
    }

    fn shape(conditions: &[(&str, &str)], sort: &[(&str, bool)]) -> QueryShape {
        QueryShape {
            collection: "tasks".into(),
            kind: ShapeKind::List,
            filter: String::new(),
            conditions: conditions
                .iter()
                .map(|(path, op)| Condition {
                    path: (*path).into(),
                    op: (*op).into(),
                })
                .collect(),
            conjunctive: true,
            sort: sort
                .iter()
                .map(|(path, descending)| SortShape {
                    path: (*path).into(),
                    descending: *descending,
                })
                .collect(),
            expand: Vec::new(),
            page_size: Some(32),
            offset: false,
            cursor: false,
            tenant_scoped: false,
        }
    }

    #[test]
    fn equality_then_sort_keys_then_id() {
        let c = candidate(
            &tasks(false),
            &shape(
                &[("team", "="), ("priority", ">")],
                &[("created_at", true), ("id", true)],
            ),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "created_at", "id"]);
        assert_eq!(c.effective.name, "idx_tasks__team__created_at__id");
    }

    #[test]
    fn a_mixed_order_keeps_each_key_in_its_direction() {
        // `sort=-priority` ends with `id` ascending: no index of ascending keys reads that
        // order, one with `priority` descending does, forwards.
        let c = candidate(
            &tasks(false),
            &shape(&[("team", "=")], &[("priority", true), ("id", false)]),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "-priority", "id"]);
        assert_eq!(c.effective.descending, ["priority"]);
        assert_eq!(c.effective.name, "idx_tasks__team__priority_desc__id");
        // `sort=-created_at`: timestamps hardly tie, so the ascending index read backwards
        // serves it, and `id` would only widen it.
        let c = candidate(
            &tasks(false),
            &shape(
                &[("team", "="), ("priority", ">")],
                &[("created_at", true), ("id", false)],
            ),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "created_at"]);
        // The other way round: `id` is the descending key.
        let c = candidate(
            &tasks(true),
            &shape(&[("team", "=")], &[("priority", false), ("id", true)]),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "priority", "-id"]);
        assert_eq!(
            c.effective.declared_keys(),
            ["tenant", "team", "priority", "-id"]
        );
    }

    #[test]
    fn a_range_on_the_sort_key_is_served_by_its_place_in_the_order() {
        let c = candidate(
            &tasks(false),
            &shape(
                &[("team", "="), ("priority", ">=")],
                &[("priority", true), ("id", true)],
            ),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "priority", "id"]);
    }

    #[test]
    fn without_a_sort_the_first_range_follows_the_equalities() {
        let c = candidate(
            &tasks(true),
            &shape(&[("priority", ">"), ("team", "=")], &[("id", false)]),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "priority"]);
        assert_eq!(c.effective.fields, ["tenant", "team", "priority"]);
    }

    #[test]
    fn a_count_wants_its_equalities_then_one_range() {
        let mut count = shape(&[("team", "="), ("priority", ">")], &[]);
        count.kind = ShapeKind::Count;
        count.page_size = None;
        let c = candidate(&tasks(false), &count).expect("a candidate");
        assert_eq!(c.declared, ["team", "priority"]);
    }

    #[test]
    fn nothing_indexable_gives_no_candidate() {
        let collection = tasks(false);
        assert!(candidate(&collection, &shape(&[("title", "~")], &[("id", false)])).is_none());
        let mut disjunction = shape(&[("team", "="), ("priority", "=")], &[("id", false)]);
        disjunction.conjunctive = false;
        assert!(candidate(&collection, &disjunction).is_none());
        let mut get = shape(&[("id", "=")], &[]);
        get.kind = ShapeKind::Get;
        assert!(candidate(&collection, &get).is_none());
    }

    #[test]
    fn an_index_whose_leading_keys_match_serves_the_candidate() {
        let existing = vec![
            Index::new(
                "tasks",
                vec!["team".into(), "priority".into(), "id".into()],
                false,
            ),
            Index::new("tasks", vec!["title".into()], false),
        ];
        let wanted = Index::new("tasks", vec!["team".into(), "priority".into()], false);
        let keys = |i: &Index| i.fields.clone();
        assert_eq!(
            served_by(&existing, &wanted, keys).map(|i| i.name.as_str()),
            Some("idx_tasks__team__priority__id")
        );
        let longer = Index::new("tasks", vec!["team".into(), "created_at".into()], false);
        assert!(served_by(&existing, &longer, keys).is_none());
    }
}
