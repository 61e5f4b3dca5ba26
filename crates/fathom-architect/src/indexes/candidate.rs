//! The index a query shape asks for: its equality fields, then its sort keys (ending with the
//! `id` tiebreaker every sort ends with, when the order runs one way), or, when it sorts by
//! `id` alone, its first range field; and whether an index the collection has already serves
//! it.

use fathom_schema::{Collection, Index, TENANT_FIELD};
use fathom_store::shapes::{QueryShape, ShapeKind};

/// Operators an index serves as a lookup of one key.
const EQUALITY: &[&str] = &["=", "is null"];
/// Operators an index serves as a range of keys.
const RANGE: &[&str] = &["<", "<=", ">", ">=", "in"];

/// A candidate index: as the schema file would declare it (`declared`, without the tenant
/// column) and as the migration builds it (`effective`, with it on tenant-scoped collections).
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
    if !sort.is_empty() {
        if !sort.iter().all(|p| own_column(collection, p)) {
            return None;
        }
        // A key fixed by an equality needs no place in the order; the rest do, then `id`
        // when the whole order runs one way: an index is read forwards or backwards, so a
        // mixed order (`-created_at` then `id` ascending, the default tiebreaker) is sorted
        // within ties whatever follows, and `id` would only widen the index.
        for path in sort {
            if !fields[..equalities].iter().any(|f| f == path) {
                push(&mut fields, path);
            }
        }
        let one_way = shape
            .sort
            .windows(2)
            .all(|pair| pair[0].descending == pair[1].descending);
        if one_way {
            push(&mut fields, "id");
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
    Some(Candidate {
        effective: Index::new(&collection.name, effective, false),
        declared: fields,
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
    fn a_mixed_order_leaves_the_tiebreaker_out() {
        // `sort=-created_at` ends with `id` ascending: no one-way index reads that order.
        let c = candidate(
            &tasks(false),
            &shape(
                &[("team", "="), ("priority", ">")],
                &[("created_at", true), ("id", false)],
            ),
        )
        .expect("a candidate");
        assert_eq!(c.declared, ["team", "created_at"]);
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
