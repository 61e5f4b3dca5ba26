//! Routes an embedding application adds to the served router ([`CustomRoutes`]): each is an axum
//! `MethodRouter` over [`AppState`] (so it takes the same [`crate::Principal`] extractor and
//! answers errors as [`crate::ApiError`]) with the OpenAPI description it is served with
//! ([`RouteDoc`], rendered by `openapi/custom.rs`).
//!
//! Custom routes live under `/api/v1/`, so the rate limits count them as every other data route
//! (`GET`/`HEAD` in the read class, other methods in the write class). Their first segment may
//! not be one Fathom routes itself (`auth`, `admin`, `realtime`, `batch`, `events`, ...) nor a
//! collection of the served schema: [`CustomRoutes::check`] refuses such paths before the server
//! starts, with a sentence naming each.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;
use fathom_schema::{RESERVED_COLLECTION_NAMES, Schema};
use serde_json::Value;

use crate::AppState;

/// Where every custom route lives.
pub const CUSTOM_PREFIX: &str = "/api/v1/";

/// First segments under `/api/v1/` that Fathom routes itself, beyond the reserved collection
/// names (which already hold `auth`, `admin`, `batch`, `events`, `openapi`, `realtime`...).
const ROUTED_WORDS: &[&str] = &["openapi.json"];

/// One route: its path (axum syntax, `{name}` for a capture), its handlers and its description.
#[derive(Clone)]
pub struct CustomRoute {
    pub path: String,
    pub router: MethodRouter<AppState>,
    pub doc: RouteDoc,
}

/// Every custom route of a server; a clone shares them (a reload keeps them).
#[derive(Clone, Default)]
pub struct CustomRoutes(Arc<Vec<CustomRoute>>);

impl CustomRoutes {
    pub fn new(routes: Vec<CustomRoute>) -> Self {
        Self(Arc::new(routes))
    }

    pub fn iter(&self) -> impl Iterator<Item = &CustomRoute> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem of these routes with `schema`, one sentence each (empty when all are
    /// sound): a path outside `/api/v1/`, one whose first segment is a capture, a word Fathom
    /// routes or a collection, or two routes with the same path.
    pub fn check(&self, schema: &Schema) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        for route in self.iter() {
            let path = &route.path;
            let Some(rest) = path.strip_prefix(CUSTOM_PREFIX) else {
                problems.push(format!(
                    "the custom route `{path}` must live under `{CUSTOM_PREFIX}` (for example `{CUSTOM_PREFIX}shop/checkout`), where the rate limits and the error format apply"
                ));
                continue;
            };
            let first = rest.split('/').next().unwrap_or_default();
            if first.is_empty() || first.contains('{') || first.contains('*') {
                problems.push(format!(
                    "the custom route `{path}` must start with a fixed word after `{CUSTOM_PREFIX}` (a capture there would take every collection's paths)"
                ));
            } else if schema.collections.contains_key(first) {
                problems.push(format!(
                    "the custom route `{path}` collides with the collection `{first}` (`{CUSTOM_PREFIX}{first}`); choose another first segment"
                ));
            } else if RESERVED_COLLECTION_NAMES.contains(&first) || ROUTED_WORDS.contains(&first) {
                problems.push(format!(
                    "the custom route `{path}` collides with Fathom's own `{CUSTOM_PREFIX}{first}`; choose another first segment"
                ));
            }
            if !seen.insert(shape(path)) {
                problems.push(format!(
                    "the custom route `{path}` is added twice (or overlaps another with the same shape); give each path one `route` with all its methods"
                ));
            }
        }
        problems
    }

    /// The routes as one router (call [`CustomRoutes::check`] first: axum panics on overlaps).
    pub(crate) fn router(&self) -> Router<AppState> {
        self.iter().fold(Router::new(), |router, route| {
            router.route(&route.path, route.router.clone())
        })
    }
}

/// A path with every capture's name blanked, so `/a/{x}` and `/a/{y}` compare equal.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The OpenAPI description of a custom route: one [`OperationDoc`] per method it answers.
#[derive(Clone, Debug, Default)]
pub struct RouteDoc {
    pub operations: Vec<OperationDoc>,
}

impl RouteDoc {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the description of one method.
    #[must_use]
    pub fn operation(mut self, operation: OperationDoc) -> Self {
        self.operations.push(operation);
        self
    }
}

impl From<OperationDoc> for RouteDoc {
    fn from(operation: OperationDoc) -> Self {
        Self::new().operation(operation)
    }
}

/// One method of a custom route as the OpenAPI document shows it.
#[derive(Clone, Debug)]
pub struct OperationDoc {
    pub method: Method,
    pub summary: String,
    pub description: Option<String>,
    /// The tag it is listed under (`Custom` unless set).
    pub tag: Option<String>,
    /// Defaults to one derived from the method and the path.
    pub operation_id: Option<String>,
    /// The JSON Schema of the `application/json` request body, if it takes one.
    pub request: Option<Value>,
    /// `(status, description, JSON Schema of the application/json body if any)`.
    pub responses: Vec<(u16, String, Option<Value>)>,
    /// The statuses of the problem+json answers it may give (400, 401, 403, 404, 409...).
    pub problems: Vec<u16>,
    /// Whether it needs a bearer token (documented with the `bearerAuth` requirement).
    pub authenticated: bool,
}

impl OperationDoc {
    pub fn new(method: Method, summary: impl Into<String>) -> Self {
        Self {
            method,
            summary: summary.into(),
            description: None,
            tag: None,
            operation_id: None,
            request: None,
            responses: Vec::new(),
            problems: Vec::new(),
            authenticated: false,
        }
    }

    pub fn get(summary: impl Into<String>) -> Self {
        Self::new(Method::GET, summary)
    }

    pub fn post(summary: impl Into<String>) -> Self {
        Self::new(Method::POST, summary)
    }

    pub fn put(summary: impl Into<String>) -> Self {
        Self::new(Method::PUT, summary)
    }

    pub fn patch(summary: impl Into<String>) -> Self {
        Self::new(Method::PATCH, summary)
    }

    pub fn delete(summary: impl Into<String>) -> Self {
        Self::new(Method::DELETE, summary)
    }

    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    #[must_use]
    pub fn operation_id(mut self, id: impl Into<String>) -> Self {
        self.operation_id = Some(id.into());
        self
    }

    /// The JSON Schema of its `application/json` request body.
    #[must_use]
    pub fn request(mut self, schema: Value) -> Self {
        self.request = Some(schema);
        self
    }

    /// A success answer: its status, description and the JSON Schema of its body (if any).
    #[must_use]
    pub fn response(
        mut self,
        status: u16,
        description: impl Into<String>,
        schema: Option<Value>,
    ) -> Self {
        self.responses.push((status, description.into(), schema));
        self
    }

    /// The statuses of the problem+json answers it may give.
    #[must_use]
    pub fn problems(mut self, statuses: &[u16]) -> Self {
        self.problems.extend_from_slice(statuses);
        self
    }

    /// Documents the bearer-token requirement (and the 401 that comes without one).
    #[must_use]
    pub fn authenticated(mut self) -> Self {
        self.authenticated = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(paths: &[&str]) -> CustomRoutes {
        CustomRoutes::new(
            paths
                .iter()
                .map(|path| CustomRoute {
                    path: (*path).to_owned(),
                    router: axum::routing::get(|| async { "" }),
                    doc: OperationDoc::get("x").into(),
                })
                .collect(),
        )
    }

    #[test]
    fn collisions_are_refused_one_sentence_each() {
        let schema = fathom_schema::parse_schema(
            "t",
            "[collections.orders]\nfields.a = { type = \"text\" }\n",
        )
        .unwrap();
        let ok = routes(&["/api/v1/shop/checkout", "/api/v1/shop/{id}/pay"]);
        assert!(ok.check(&schema).is_empty());
        for bad in [
            "/shop",
            "/api/v1/orders/summary",
            "/api/v1/auth/extra",
            "/api/v1/admin/x",
            "/api/v1/batch",
            "/api/v1/openapi.json",
            "/api/v1/{anything}",
            "/api/v1/",
        ] {
            let problems = routes(&[bad]).check(&schema);
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        }
        let twice = routes(&["/api/v1/shop/{a}", "/api/v1/shop/{b}"]);
        assert_eq!(twice.check(&schema).len(), 1);
    }
}
