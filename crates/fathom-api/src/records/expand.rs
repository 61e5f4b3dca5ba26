//! Relation expansion (`expand=category,order_items_via_order,order.customer`): to-one relations
//! by field name, to-many by `<collection>_via_<field>`, up to two levels. Each expanded relation
//! costs one query per level for the whole page, never one per record.

use std::collections::BTreeSet;
use std::sync::Arc;

use fathom_schema::{Collection, FieldType, Schema};
use serde_json::{Map, Value as Json};

use super::access::Principal;
use super::params::invalid;
use super::record_json;
use crate::AppState;
use crate::error::ApiError;

/// How deep expansions may nest.
pub const MAX_EXPAND_DEPTH: usize = 2;
/// The most related records one to-many expansion loads for a whole page.
pub const MAX_EXPANDED_RECORDS: u32 = 1000;

/// One relation to expand, and what to expand inside it.
#[derive(Debug, Clone)]
pub struct ExpandNode {
    pub name: String,
    pub relation: Relation,
    pub children: Vec<ExpandNode>,
}

#[derive(Debug, Clone)]
pub enum Relation {
    /// A relation field of this collection, pointing at `target`.
    ToOne {
        field: String,
        target: Arc<Collection>,
    },
    /// Records of `source` whose relation `field` points at this record.
    ToMany {
        source: Arc<Collection>,
        field: String,
    },
    /// A relation field of this collection pointing at user accounts; `view` is what an
    /// account shows (`accounts::view_collection`).
    Account {
        field: String,
        view: Arc<Collection>,
    },
}

impl Relation {
    fn target(&self) -> &Arc<Collection> {
        match self {
            Self::ToOne { target, .. } => target,
            Self::ToMany { source, .. } => source,
            Self::Account { view, .. } => view,
        }
    }
}

/// Parses `expand` into a tree of relations, checked against the schema.
pub fn parse_expand(
    text: &str,
    schema: &Schema,
    collection: &Arc<Collection>,
) -> Result<Vec<ExpandNode>, ApiError> {
    let mut roots: Vec<ExpandNode> = Vec::new();
    for item in text.split(',').map(str::trim) {
        // An empty name (the parameter empty, or two commas) expands nothing: refused, not
        // ignored, as `fields` refuses it.
        if item.is_empty() {
            return Err(invalid(
                "expand",
                "`expand` lists an empty name.".into(),
                "List relation names separated by commas, e.g. `expand=category`; leave the parameter out to expand nothing.".into(),
            ));
        }
        let path: Vec<&str> = item.split('.').collect();
        if path.len() > MAX_EXPAND_DEPTH {
            return Err(invalid(
                "expand",
                format!(
                    "`{item}` expands {} levels; the limit is {MAX_EXPAND_DEPTH}.",
                    path.len()
                ),
                "Expand at most two levels, such as order.customer.".into(),
            ));
        }
        let mut level = &mut roots;
        let mut current = collection.clone();
        for name in path {
            if current.name == fathom_schema::ACCOUNTS {
                return Err(invalid(
                    "expand",
                    format!("`{item}` expands inside an account, which has no relations."),
                    "Expand the account alone, such as `owner`.".into(),
                ));
            }
            let relation = resolve(name, schema, &current)?;
            let next = relation.target().clone();
            let index = match level.iter().position(|n| n.name == name) {
                Some(index) => index,
                None => {
                    level.push(ExpandNode {
                        name: name.to_owned(),
                        relation,
                        children: Vec::new(),
                    });
                    level.len() - 1
                }
            };
            level = &mut level[index].children;
            current = next;
        }
    }
    Ok(roots)
}

fn resolve(name: &str, schema: &Schema, collection: &Collection) -> Result<Relation, ApiError> {
    if let Some(field) = collection.field(name) {
        if field.kind.points_at_accounts() {
            return Ok(Relation::Account {
                field: name.to_owned(),
                view: super::accounts::view_collection(schema),
            });
        }
        if let FieldType::Relation {
            collection: target, ..
        } = &field.kind
            && let Some(target) = schema.collection(target)
        {
            return Ok(Relation::ToOne {
                field: name.to_owned(),
                target: target.clone(),
            });
        }
        return Err(invalid(
            "expand",
            format!("`{name}` is not a relation of `{}`.", collection.name),
            "Only relation fields can be expanded.".into(),
        ));
    }
    if let Some((source, field)) = name.split_once("_via_")
        && let Some(source) = schema.collection(source)
        && let Some(f) = source.field(field)
        && matches!(&f.kind, FieldType::Relation { collection: target, .. } if *target == collection.name)
    {
        return Ok(Relation::ToMany {
            source: source.clone(),
            field: field.to_owned(),
        });
    }
    let mut options: Vec<String> = collection
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldType::Relation { .. }))
        .map(|f| f.name.clone())
        .collect();
    for other in schema.collections.values() {
        for f in &other.fields {
            if matches!(&f.kind, FieldType::Relation { collection: target, .. } if *target == collection.name)
            {
                options.push(format!("{}_via_{}", other.name, f.name));
            }
        }
    }
    let shown: String = name.chars().take(64).collect();
    let hint = if options.is_empty() {
        format!("`{}` has no relations to expand.", collection.name)
    } else {
        format!("It can expand: {}.", options.join(", "))
    };
    Err(invalid(
        "expand",
        format!("`{shown}` is not a relation of `{}`.", collection.name),
        hint,
    ))
}

pub use fathom_engine::filters::column_in;

/// Expands `nodes` on `records` (JSON objects of `collection`), in place, under `expand`.
pub async fn expand(
    state: &AppState,
    principal: &Principal,
    records: &mut [Map<String, Json>],
    nodes: &[ExpandNode],
) -> Result<(), ApiError> {
    for node in nodes {
        Box::pin(expand_one(state, principal, records, node)).await?;
    }
    Ok(())
}

async fn expand_one(
    state: &AppState,
    principal: &Principal,
    records: &mut [Map<String, Json>],
    node: &ExpandNode,
) -> Result<(), ApiError> {
    let (key_on_parent, key_on_related) = match &node.relation {
        Relation::ToOne { field, .. } => (field.as_str(), "id"),
        Relation::ToMany { field, .. } => ("id", field.as_str()),
        Relation::Account { field, .. } => {
            // Accounts have no relations of their own, so nothing nests inside them.
            return super::accounts::expand_accounts(state, principal, records, &node.name, field)
                .await;
        }
    };
    let keys: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r.get(key_on_parent)?.as_str().map(str::to_owned))
        .collect();
    let target = node.relation.target().clone();
    let mut related: Vec<Map<String, Json>> = Vec::new();
    if !keys.is_empty() {
        let limit = match node.relation {
            Relation::ToOne { .. } | Relation::Account { .. } => {
                u32::try_from(keys.len()).unwrap_or(u32::MAX)
            }
            // One more than the cap tells a complete answer from a cut one.
            Relation::ToMany { .. } => MAX_EXPANDED_RECORDS + 1,
        };
        // Expanded records obey the target's list rule, like any list of them would.
        let found = state
            .engine
            .related(principal, &target, key_on_related, &keys, limit)
            .await?;
        if matches!(node.relation, Relation::ToMany { .. })
            && found.len() > MAX_EXPANDED_RECORDS as usize
        {
            return Err(invalid(
                "expand",
                format!(
                    "Expanding `{}` would load more than {MAX_EXPANDED_RECORDS} records for this page.",
                    node.name
                ),
                "Request a smaller `limit`, or list the related collection with a filter instead."
                    .into(),
            ));
        }
        related = found
            .iter()
            .map(|r| match record_json(r) {
                Json::Object(mut map) => {
                    super::access::strip_hidden(&target, principal, &mut map);
                    map
                }
                _ => Map::new(),
            })
            .collect();
        expand(state, principal, &mut related, &node.children).await?;
    }
    for record in records.iter_mut() {
        let key = record
            .get(key_on_parent)
            .and_then(Json::as_str)
            .map(str::to_owned);
        let value = match (&node.relation, key) {
            (Relation::ToOne { .. }, Some(id)) => related
                .iter()
                .find(|r| r.get("id").and_then(Json::as_str) == Some(&id))
                .cloned()
                .map_or(Json::Null, Json::Object),
            (Relation::ToOne { .. } | Relation::Account { .. }, None) => Json::Null,
            // Expanded above, by `accounts::expand_accounts`.
            (Relation::Account { .. }, Some(_)) => Json::Null,
            (Relation::ToMany { .. }, key) => Json::Array(
                related
                    .iter()
                    .filter(|r| {
                        key.is_some()
                            && r.get(key_on_related).and_then(Json::as_str) == key.as_deref()
                    })
                    .cloned()
                    .map(Json::Object)
                    .collect(),
            ),
        };
        let slot = record
            .entry("expand")
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(expanded) = slot {
            expanded.insert(node.name.clone(), value);
        }
    }
    Ok(())
}
