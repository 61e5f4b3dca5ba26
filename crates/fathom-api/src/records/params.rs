//! The query parameters of record reads, parsed and checked against the schema in one place:
//! `filter`, `sort`, `limit`, `cursor`, `offset`, `count`, `ids` (lists) and `fields`, `expand`
//! (lists and single records). Every problem is a 400 `invalid_query` naming the parameter.

use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_query::{Env, Filter, QueryError, SortKey, check, default_sort, parse, parse_sort};
use fathom_schema::{Collection, Schema, Value};

use super::expand::{ExpandNode, column_in, parse_expand};
use super::fields::{FieldSelection, implied_expansions};
use crate::AppState;
use crate::error::ApiError;

/// The most ids one `ids=` batch read may name.
pub const MAX_IDS: usize = 100;

/// Everything a list request asks for.
pub struct ListRequest {
    pub filter: Option<Filter>,
    pub sort: Vec<SortKey>,
    pub limit: u32,
    pub offset: u64,
    pub after: Option<Vec<Value>>,
    pub count: bool,
    pub shape: Shape,
    /// `deleted=only|include` (administrators, soft-delete collections): the deleted records.
    pub deleted: fathom_store::Deleted,
}

/// How each returned record is shaped: which relations are expanded and which fields are kept.
pub struct Shape {
    pub expand: Vec<ExpandNode>,
    pub fields: Option<FieldSelection>,
}

impl Shape {
    /// The relation fields the expansion follows, as paths (to check that each is readable).
    pub fn expand_paths(&self) -> Vec<fathom_query::FieldPath> {
        fn walk(
            nodes: &[ExpandNode],
            hops: &[fathom_query::Hop],
            out: &mut Vec<fathom_query::FieldPath>,
        ) {
            for node in nodes {
                if let super::expand::Relation::Account { field, .. } = &node.relation {
                    out.push(fathom_query::FieldPath {
                        hops: hops.to_vec(),
                        column: field.clone(),
                        kind: fathom_query::ValueKind::Uuid,
                    });
                }
                if let super::expand::Relation::ToOne { field, target } = &node.relation {
                    out.push(fathom_query::FieldPath {
                        hops: hops.to_vec(),
                        column: field.clone(),
                        kind: fathom_query::ValueKind::Uuid,
                    });
                    let mut deeper = hops.to_vec();
                    deeper.push(fathom_query::Hop {
                        field: field.clone(),
                        collection: target.name.clone(),
                        soft_delete: target.soft_delete,
                    });
                    walk(&node.children, &deeper, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.expand, &[], &mut out);
        out
    }
}

pub fn invalid(parameter: &str, detail: String, hint: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, detail.clone(), hint).with_field(
        parameter,
        "invalid_parameter",
        detail,
    )
}

fn query_error(parameter: &str, error: QueryError) -> ApiError {
    invalid(
        parameter,
        format!(
            "`{parameter}` is invalid at column {}: {}",
            error.column, error.message
        ),
        error.hint,
    )
}

fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn reject_unknown(pairs: &[(String, String)], known: &[&str]) -> Result<(), ApiError> {
    for (key, _) in pairs {
        if !known.contains(&key.as_str()) {
            let shown: String = key.chars().take(64).collect();
            return Err(invalid(
                key,
                format!("Unknown query parameter `{shown}`."),
                format!("This endpoint takes: {}.", known.join(", ")),
            ));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (key, _) in pairs {
        if seen.contains(&key.as_str()) {
            return Err(invalid(
                key,
                format!("`{key}` is given more than once."),
                "Give each parameter once.".into(),
            ));
        }
        seen.push(key);
    }
    Ok(())
}

fn get<'p>(pairs: &'p [(String, String)], key: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Parses `filter` against `collection` for the caller `env`.
pub fn parse_filter(
    text: &str,
    schema: &Schema,
    collection: &Collection,
    env: &Env,
) -> Result<Filter, ApiError> {
    let expr = parse(text).map_err(|e| query_error("filter", e))?;
    check(&expr, text, schema, collection, env).map_err(|e| query_error("filter", e))
}

/// `ids=a,b,c` as the filter `id in [...]`.
fn ids_filter(text: &str, schema: &Schema, collection: &Collection) -> Result<Filter, ApiError> {
    let ids: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(invalid(
            "ids",
            format!(
                "`ids` must name 1 to {MAX_IDS} ids, but names {}.",
                ids.len()
            ),
            "Separate ids with commas; page through more with cursor.".into(),
        ));
    }
    if let Some(bad) = ids.iter().find(|id| uuid::Uuid::parse_str(id).is_err()) {
        let shown: String = bad.chars().take(64).collect();
        return Err(invalid(
            "ids",
            format!("`{shown}` is not a record id."),
            "Record ids are UUIDs, as returned in `id`.".into(),
        ));
    }
    let ids: std::collections::BTreeSet<String> =
        ids.iter().map(|id| id.to_ascii_lowercase()).collect();
    Ok(column_in(schema, collection, "id", &ids)?)
}

fn shape(
    pairs: &[(String, String)],
    schema: &Schema,
    collection: &Arc<Collection>,
) -> Result<Shape, ApiError> {
    let mut expand = match get(pairs, "expand") {
        Some(text) => parse_expand(text, schema, collection)?,
        None => Vec::new(),
    };
    if let Some(text) = get(pairs, "fields") {
        let implied = implied_expansions(text, &expand);
        if !implied.is_empty() {
            let expanded = parse_expand(&implied.join(","), schema, collection).map_err(|_| {
                invalid(
                    "fields",
                    format!(
                        "`fields` selects inside {}, which `{}` cannot expand.",
                        implied
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        collection.name
                    ),
                    "Select inside relations only: `relation.field`.".into(),
                )
            })?;
            expand.extend(expanded);
        }
    }
    let fields = match get(pairs, "fields") {
        Some(text) => Some(FieldSelection::parse(text, schema, collection, &expand)?),
        None => None,
    };
    Ok(Shape { expand, fields })
}

/// Parses the parameters of `GET /api/v1/{collection}/{id}`.
pub fn parse_get(
    query: Option<&str>,
    state: &AppState,
    collection: &Arc<Collection>,
) -> Result<Shape, ApiError> {
    let pairs = pairs(query);
    reject_unknown(&pairs, &["fields", "expand"])?;
    shape(&pairs, &state.schema, collection)
}

/// Parses the parameters of `GET /api/v1/{collection}`.
pub fn parse_list(
    query: Option<&str>,
    state: &AppState,
    collection: &Arc<Collection>,
) -> Result<ListRequest, ApiError> {
    let pairs = pairs(query);
    reject_unknown(
        &pairs,
        &[
            "filter", "sort", "limit", "cursor", "offset", "count", "ids", "fields", "expand",
            "deleted",
        ],
    )?;
    let (schema, config) = (&state.schema, &state.config);
    let mut filter = match get(&pairs, "filter") {
        Some(text) => Some(parse_filter(text, schema, collection, &Env::default())?),
        None => None,
    };
    if let Some(text) = get(&pairs, "ids") {
        let ids = ids_filter(text, schema, collection)?;
        filter = Some(match filter {
            Some(f) => f.and(ids),
            None => ids,
        });
    }
    let sort = match get(&pairs, "sort") {
        Some(text) => parse_sort(text, collection).map_err(|e| query_error("sort", e))?,
        None => default_sort(),
    };
    let limit = match get(&pairs, "limit") {
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=config.max_page_size).contains(l))
            .ok_or_else(|| {
                invalid(
                    "limit",
                    format!(
                        "`limit` must be a whole number from 1 to {}, but got \"{value}\".",
                        config.max_page_size
                    ),
                    format!(
                        "Use for example limit={}; page on with `cursor`.",
                        config.default_page_size
                    ),
                )
            })?,
        None => config.default_page_size,
    };
    let offset = match get(&pairs, "offset") {
        Some(value) => value.parse::<u64>().map_err(|_| {
            invalid(
                "offset",
                format!("`offset` must be a whole number of 0 or more, but got \"{value}\"."),
                "Use for example offset=40, or better `cursor`.".into(),
            )
        })?,
        None => 0,
    };
    let after = match get(&pairs, "cursor") {
        // `offset=0` is the default, so it goes with a cursor; any other offset does not.
        Some(_) if offset != 0 => {
            return Err(invalid("cursor", "`cursor` and a non-zero `offset` cannot be combined.".into(), "Use `cursor` from meta.page.next alone.".into()));
        }
        Some(cursor) => Some(state.cursor_key.decode(cursor, &collection.name, &sort).map_err(|e| {
            invalid("cursor", format!("The cursor is not valid here: {e}."), "Pass `meta.page.next` unchanged, with the same `sort` as the request that returned it.".into())
        })?),
        None => None,
    };
    let count = match get(&pairs, "count") {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(value) => {
            return Err(invalid(
                "count",
                format!("`count` must be true or false, but got \"{value}\"."),
                "Use count=true to get the total.".into(),
            ));
        }
    };
    let deleted = match get(&pairs, "deleted") {
        None | Some("hide") => fathom_store::Deleted::Hidden,
        Some(value) if !collection.soft_delete => {
            return Err(invalid(
                "deleted",
                format!(
                    "`{}` deletes records for good, so `deleted={}` has nothing to show.",
                    collection.name,
                    value.chars().take(16).collect::<String>()
                ),
                "Only collections with soft_delete = true keep deleted records.".into(),
            ));
        }
        Some("only") => fathom_store::Deleted::Only,
        Some("include") => fathom_store::Deleted::Included,
        Some(value) => {
            return Err(invalid(
                "deleted",
                format!(
                    "`deleted` must be hide, only or include, but got \"{}\".",
                    value.chars().take(16).collect::<String>()
                ),
                "Use deleted=only to list the deleted records (administrators only).".into(),
            ));
        }
    };
    Ok(ListRequest {
        filter,
        sort,
        limit,
        offset,
        after,
        count,
        shape: shape(&pairs, schema, collection)?,
        deleted,
    })
}
