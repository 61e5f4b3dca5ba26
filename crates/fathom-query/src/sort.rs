//! The `sort` parameter (`-created_at,name`): keys on the collection's own fields, each ascending
//! or descending, with `id` as the implicit last key so that every order is total.

use fathom_schema::Collection;
use sea_query::{NullOrdering, Order, SelectStatement};

use crate::check::{FieldPath, ValueKind};
use crate::error::QueryError;
use crate::sql::{Dialect, column_in};

/// The most keys a sort may have (besides the implicit `id`).
pub const MAX_SORT_KEYS: usize = 4;

/// One sort key. Nulls come first ascending and last descending, on every database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub path: FieldPath,
    pub descending: bool,
}

/// Parses `sort` for `collection`; the result always ends with `id`.
pub fn parse_sort(spec: &str, collection: &Collection) -> Result<Vec<SortKey>, QueryError> {
    let mut keys: Vec<SortKey> = Vec::new();
    let mut offset = 0;
    for part in spec.split(',') {
        let at = offset;
        offset += part.len() + 1;
        let trimmed = part.trim();
        let (descending, name) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let kind = crate::check::system_kind(collection, name)
            .or_else(|| collection.field(name).map(|f| ValueKind::of(&f.kind)));
        let Some(kind) = kind else {
            let known: Vec<&str> = collection.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(QueryError::at(
                spec,
                at,
                format!(
                    "Cannot sort by `{name}`: `{}` has no such field.",
                    collection.name
                ),
                format!(
                    "Sort by id, created_at, updated_at or one of: {}; prefix `-` for descending.",
                    known.join(", ")
                ),
            ));
        };
        if collection.field(name).is_some_and(|f| f.encrypted) {
            return Err(QueryError::at(
                spec,
                at,
                format!(
                    "Cannot sort by the encrypted field `{name}`: its stored values have no order."
                ),
                "Sort by a field that is not encrypted; encrypted fields take `=`, `!=` and `in` filters only (with a blind index).",
            ));
        }
        if kind == ValueKind::Json {
            return Err(QueryError::at(
                spec,
                at,
                format!("Cannot sort by the json field `{name}`."),
                "Sort by a field with an order: text, numbers, dates.",
            ));
        }
        if keys.last().is_some_and(|k| k.path.column == "id") {
            return Err(QueryError::at(
                spec,
                at,
                format!("`{name}` comes after `id`, which already makes the order total."),
                "Put `id` last, or leave it out: it is always the final key.",
            ));
        }
        if keys.iter().any(|k| k.path.column == name) {
            return Err(QueryError::at(
                spec,
                at,
                format!("`{name}` appears twice in sort."),
                "Name each field once.",
            ));
        }
        keys.push(SortKey {
            path: FieldPath {
                hops: vec![],
                column: name.to_owned(),
                kind,
            },
            descending,
        });
    }
    if keys.len() > MAX_SORT_KEYS + 1
        || (keys.len() > MAX_SORT_KEYS && keys.last().is_none_or(|k| k.path.column != "id"))
    {
        return Err(QueryError::at(
            spec,
            0,
            format!("Sort takes at most {MAX_SORT_KEYS} fields."),
            "Drop the least significant fields.",
        ));
    }
    if keys.last().is_none_or(|k| k.path.column != "id") {
        keys.push(default_key());
    }
    Ok(keys)
}

/// The order when no sort is given: by id, which for UUIDv7 is creation order.
pub fn default_sort() -> Vec<SortKey> {
    vec![default_key()]
}

fn default_key() -> SortKey {
    SortKey {
        path: FieldPath {
            hops: vec![],
            column: "id".into(),
            kind: ValueKind::Uuid,
        },
        descending: false,
    }
}

/// The canonical text of a sort, as carried in cursors (`-price,id`).
pub fn sort_spec(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.path.column))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a sort key is a system column that always has a value.
pub fn is_never_null(path: &FieldPath) -> bool {
    path.hops.is_empty()
        && matches!(
            path.column.as_str(),
            "id" | "version" | "created_at" | "updated_at"
        )
}

/// Adds ORDER BY for `keys` on `base` (SQLite's dialect).
pub fn apply_sort(select: &mut SelectStatement, base: &str, keys: &[SortKey]) {
    apply_sort_in(Dialect::Sqlite, select, base, keys);
}

/// [`apply_sort`] for `dialect`.
pub fn apply_sort_in(dialect: Dialect, select: &mut SelectStatement, base: &str, keys: &[SortKey]) {
    for key in keys {
        let (order, nulls) = if key.descending {
            (Order::Desc, NullOrdering::Last)
        } else {
            (Order::Asc, NullOrdering::First)
        };
        let column = column_in(dialect, base, &key.path);
        // PostgreSQL matches an ORDER BY to an index only when the null placement agrees too.
        // System columns are never null, so they keep PostgreSQL's default placement, which the
        // primary key and the indexes Fathom builds share; fields say it explicitly, as their
        // index columns do (`NULLS FIRST`, scanned backwards for descending).
        if dialect == Dialect::Postgres && is_never_null(&key.path) {
            select.order_by_expr(column, order);
        } else {
            select.order_by_expr_with_nulls(column, order, nulls);
        }
    }
}
