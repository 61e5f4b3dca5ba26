//! A query shape turned back into a runnable read: every `?` of its filter gets a real value
//! of its field, sampled from one stored record (or a typed placeholder when the table holds
//! none), so the planner sees a read like the ones that were recorded.

use std::sync::Arc;

use fathom_query::{Env, parse, parse_sort};
use fathom_schema::{Collection, FieldType, Schema, Value};
use fathom_store::shapes::{QueryShape, ShapeKind};
use fathom_store::{AdvisedRead, ListQuery, Record, Scope, Store, StoreError};

/// Operators, longest first, so that `>=` is not read as `=`.
const OPERATORS: &[&str] = &[
    "not in",
    "is null",
    "is not null",
    "!~",
    "!=",
    "<=",
    ">=",
    "in",
    "~",
    "=",
    "<",
    ">",
];

/// Page size when the shape recorded none.
const DEFAULT_PAGE: u32 = 20;

/// The read a shape describes, and the scope it runs in; `None` when the shape cannot be
/// rebuilt (its filter names what the schema no longer has).
pub async fn synthesize(
    store: &Store,
    schema: &Schema,
    collection: &Arc<Collection>,
    shape: &QueryShape,
) -> Result<Option<(Scope, AdvisedRead)>, StoreError> {
    let sample = store
        .list(
            &Scope::AllTenants,
            Arc::clone(collection),
            ListQuery::first(1),
        )
        .await?
        .pop();
    let scope = if collection.tenant_scoped {
        // A tenant's read: the sample's tenant, or any name when there is no record.
        Scope::Tenant(
            sample
                .as_ref()
                .and_then(|r| r.tenant.clone())
                .unwrap_or_else(|| "advisor".to_owned()),
        )
    } else {
        Scope::AllTenants
    };
    let filter = if shape.filter.trim().is_empty() {
        None
    } else {
        let Some(text) = fill(&shape.filter, collection, sample.as_ref()) else {
            return Ok(None);
        };
        let Ok(expr) = parse(&text) else {
            return Ok(None);
        };
        match fathom_query::check(&expr, &text, schema, collection, &Env::default()) {
            Ok(filter) => Some(filter),
            Err(_) => return Ok(None),
        }
    };
    let read = match shape.kind {
        ShapeKind::Count => AdvisedRead::Count(filter),
        ShapeKind::List | ShapeKind::Get => {
            let spec: Vec<String> = shape
                .sort
                .iter()
                .map(|s| format!("{}{}", if s.descending { "-" } else { "" }, s.path))
                .collect();
            let sort = if spec.is_empty() {
                fathom_query::default_sort()
            } else {
                match parse_sort(&spec.join(","), collection) {
                    Ok(sort) => sort,
                    Err(_) => return Ok(None),
                }
            };
            AdvisedRead::List(ListQuery {
                filter,
                sort,
                after: None,
                limit: shape.page_size.unwrap_or(DEFAULT_PAGE).max(1),
                offset: 0,
            })
        }
    };
    Ok(Some((scope, read)))
}

/// The filter text with each `?` replaced by a literal of the field it is compared with.
pub fn fill(filter: &str, collection: &Collection, sample: Option<&Record>) -> Option<String> {
    let mut out = String::with_capacity(filter.len() * 2);
    for (n, part) in filter.split('?').enumerate() {
        if n > 0 {
            let before = out.trim_end();
            let op = OPERATORS.iter().find(|op| before.ends_with(*op))?;
            let left = before[..before.len() - op.len()].trim_end();
            let path: String = left
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let value = literal(collection, &path, sample)?;
            if *op == "in" || *op == "not in" {
                out.push_str(&format!("[{value}]"));
            } else {
                out.push_str(&value);
            }
        }
        out.push_str(part);
    }
    Some(out)
}

/// A literal of the query language for `path`: the sample's value, or a typed placeholder.
fn literal(collection: &Collection, path: &str, sample: Option<&Record>) -> Option<String> {
    let text = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    match path {
        "id" => {
            return Some(text(&sample.map_or_else(
                || uuid::Uuid::nil().to_string(),
                |r| r.id.to_string(),
            )));
        }
        "version" => return Some(sample.map_or(1, |r| r.version).to_string()),
        "created_at" | "updated_at" => {
            let stored = sample.and_then(|r| {
                if path == "created_at" {
                    r.created_at.clone()
                } else {
                    r.updated_at.clone()
                }
            });
            return Some(text(
                &stored.unwrap_or_else(|| "2026-01-01T00:00:00Z".to_owned()),
            ));
        }
        _ => {}
    }
    let field = collection.field(path)?;
    let stored = sample
        .and_then(|r| r.values.iter().find(|(name, _)| name == path))
        .map(|(_, v)| v);
    let from_sample = match stored {
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Integer(i)) => Some(i.to_string()),
        Some(Value::Number(n)) if n.is_finite() => Some(n.to_string()),
        Some(Value::Text(s)) if matches!(field.kind, FieldType::Decimal) => {
            s.parse::<f64>().ok().map(|_| s.clone())
        }
        Some(Value::Text(s)) if !field.encrypted => Some(text(s)),
        _ => None,
    };
    from_sample.or_else(|| placeholder(&field.kind))
}

/// A value of the type, for when no record holds one.
fn placeholder(kind: &FieldType) -> Option<String> {
    Some(match kind {
        FieldType::Integer | FieldType::Number | FieldType::Decimal => "0".to_owned(),
        FieldType::Boolean => "true".to_owned(),
        FieldType::Timestamp => "\"2026-01-01T00:00:00Z\"".to_owned(),
        FieldType::Date => "\"2026-01-01\"".to_owned(),
        FieldType::Uuid | FieldType::Relation { .. } => format!("\"{}\"", uuid::Uuid::nil()),
        FieldType::Enum { values } => format!("\"{}\"", values.first()?),
        FieldType::Email => "\"advisor@example.com\"".to_owned(),
        FieldType::Url => "\"https://example.com\"".to_owned(),
        FieldType::Text => "\"advisor\"".to_owned(),
        FieldType::Json => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_field_types_and_operators() {
        let schema = fathom_schema::parse_schema(
            "schema.toml",
            "[collections.tasks]\nfields.team = { type = \"text\" }\nfields.priority = { type = \"integer\" }\nfields.state = { type = \"enum\", values = [\"open\", \"done\"] }\n",
        )
        .expect("schema");
        let tasks = schema.collection("tasks").expect("tasks");
        assert_eq!(
            fill("team = ? && priority >= ?", tasks, None).as_deref(),
            Some("team = \"advisor\" && priority >= 0")
        );
        assert_eq!(
            fill("state in ? || created_at < ?", tasks, None).as_deref(),
            Some("state in [\"open\"] || created_at < \"2026-01-01T00:00:00Z\"")
        );
        assert!(fill("missing = ?", tasks, None).is_none());
    }
}
