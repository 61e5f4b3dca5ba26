//! Endpoints: where events go ([`EndpointSpec`]: URL, selection, tenant binding, enabled flag)
//! and what the delivery worker needs to select and sign them ([`Endpoint`], with its checked
//! [`Selection`]). The spec is stored as JSON in `_fathom_webhooks.spec`, the secrets as JSON
//! in `secrets`.

use std::sync::Arc;

use fathom_query::{Env, Filter};
use fathom_schema::Schema;
use fathom_store::{Event, WebhookRow};
use serde::{Deserialize, Serialize};

use crate::error::WebhookError;
use crate::secret::SecretSet;

/// The operations an endpoint can select.
pub const OPERATIONS: [&str; 3] = ["create", "update", "delete"];

/// What an administrator sets on an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSpec {
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The collections whose events go out; empty: every collection.
    #[serde(default)]
    pub collections: Vec<String>,
    /// `create`, `update`, `delete`; empty: every operation.
    #[serde(default)]
    pub operations: Vec<String>,
    /// An expression over the record (after the change) that an event must match.
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Only this tenant's events go out.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Why delivery stopped by itself (a `410 Gone`), until an administrator enables it again.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

fn enabled() -> bool {
    true
}

/// A stored endpoint.
#[derive(Clone)]
pub struct Endpoint {
    pub id: String,
    pub spec: EndpointSpec,
    pub secrets: SecretSet,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Endpoint {
    pub(crate) fn from_row(row: &WebhookRow) -> Result<Self, WebhookError> {
        let spec = serde_json::from_str(&row.spec).map_err(|e| {
            WebhookError::store(fathom_store::StoreError::internal(format!(
                "decoding webhook {}: {e}",
                row.id
            )))
        })?;
        let secrets = serde_json::from_str(&row.secrets).map_err(|e| {
            WebhookError::store(fathom_store::StoreError::internal(format!(
                "decoding the secrets of webhook {}: {e}",
                row.id
            )))
        })?;
        Ok(Self {
            id: row.id.clone(),
            spec,
            secrets,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
        })
    }

    pub(crate) fn to_row(&self) -> WebhookRow {
        WebhookRow {
            id: self.id.clone(),
            // Plain structs of strings and lists: serialising cannot fail.
            spec: serde_json::to_string(&self.spec).unwrap_or_default(),
            secrets: serde_json::to_string(&self.secrets).unwrap_or_default(),
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        }
    }

    /// The name of the endpoint's cursor.
    pub fn cursor(id: &str) -> String {
        format!("webhook:{id}")
    }
}

/// An endpoint's selection, checked against a schema.
#[derive(Debug, Clone)]
pub struct Selection {
    collections: Vec<String>,
    operations: Vec<String>,
    tenant: Option<String>,
    /// Per selected collection, the checked filter.
    filters: Vec<(String, Arc<Filter>)>,
    has_filter: bool,
}

impl Selection {
    /// Checks `spec`'s selection against `schema`: known collections and operations, and a
    /// filter that parses and checks against every selected collection without relation hops
    /// (it is evaluated in memory over the event's record).
    pub fn check(spec: &EndpointSpec, schema: &Schema) -> Result<Self, WebhookError> {
        for name in &spec.collections {
            if schema.collection(name).is_none() {
                return Err(WebhookError::validation(
                    format!("The collection `{name}` does not exist."),
                    "Name collections of the served schema, or leave `collections` empty for all of them.",
                ));
            }
        }
        for op in &spec.operations {
            if !OPERATIONS.contains(&op.as_str()) {
                return Err(WebhookError::validation(
                    format!("`{op}` is not an operation."),
                    "Operations are `create`, `update` and `delete`; leave `operations` empty for all of them.",
                ));
            }
        }
        let mut filters = Vec::new();
        if let Some(source) = &spec.filter {
            if spec.collections.is_empty() {
                return Err(WebhookError::new(
                    fathom_core::ErrorCode::WebhookFilterInvalid,
                    "A webhook filter needs the collections it applies to.",
                    "List the collections in `collections`; the filter is checked against each of them.",
                ));
            }
            let expr = fathom_query::parse(source).map_err(|e| filter_error(source, &e))?;
            for name in &spec.collections {
                let Some(collection) = schema.collection(name) else {
                    continue;
                };
                let filter =
                    fathom_query::check(&expr, source, schema, collection, &Env::default())
                        .map_err(|e| filter_error(source, &e))?;
                if filter.paths().iter().any(|p| !p.hops.is_empty()) {
                    return Err(WebhookError::new(
                        fathom_core::ErrorCode::WebhookFilterInvalid,
                        format!("The webhook filter `{source}` follows a relation."),
                        "A webhook filter reads only the event's own record: compare its fields, without `.` paths.",
                    ));
                }
                filters.push((name.clone(), Arc::new(filter)));
            }
        }
        Ok(Self {
            collections: spec.collections.clone(),
            operations: spec.operations.clone(),
            tenant: spec.tenant.clone(),
            has_filter: spec.filter.is_some(),
            filters,
        })
    }

    /// A selection that selects no event (an endpoint whose filter no longer checks).
    pub fn nothing() -> Self {
        Self {
            collections: Vec::new(),
            operations: Vec::new(),
            tenant: None,
            filters: Vec::new(),
            has_filter: true,
        }
    }

    /// Whether the event goes to this endpoint.
    pub fn selects(&self, event: &Event) -> bool {
        if !self.collections.is_empty() && !self.collections.contains(&event.collection) {
            return false;
        }
        if !self.operations.is_empty()
            && !self
                .operations
                .iter()
                .any(|o| o == event.operation.as_str())
        {
            return false;
        }
        if self.tenant.is_some() && self.tenant != event.tenant {
            return false;
        }
        if !self.has_filter {
            return true;
        }
        let Some(record) = &event.record else {
            // A hard delete carries no record: nothing for a filter to match.
            return false;
        };
        self.filters
            .iter()
            .find(|(name, _)| *name == event.collection)
            .is_some_and(|(_, filter)| {
                filter.matches(&|path| fathom_events::record_lookup(record, path))
            })
    }
}

fn filter_error(source: &str, e: &fathom_query::QueryError) -> WebhookError {
    WebhookError::new(
        fathom_core::ErrorCode::WebhookFilterInvalid,
        format!(
            "The webhook filter `{source}` is not valid at column {}: {}",
            e.column, e.message
        ),
        e.hint.clone(),
    )
}
