//! The OpenAPI 3.1 document of a schema: assembles the paths from `operations` (records, batch,
//! service) and `auth` (authentication and administration), the component schemas from `schemas`
//! and `auth`, and the error responses from the one `ErrorCode` table, so the document cannot
//! drift from the codes the API answers with.

use std::collections::BTreeSet;

use fathom_auth::PasswordPolicy;
use fathom_core::ErrorCode;
use fathom_schema::Schema;
use serde_json::{Map, Value, json};

use super::schemas::{self, RecordShape, schema_ref};
use super::{
    admin, auth, brokers, events, metrics, operations, realtime, safe_writes, shared, totp,
    webhooks,
};
use crate::HttpConfig;

/// A `$ref` to `#/components/{kind}/{name}`.
pub fn component_ref(kind: &str, name: &str) -> Value {
    json!({ "$ref": format!("#/components/{kind}/{name}") })
}

/// The name of the shared problem response for an HTTP status.
pub(super) fn problem_response_name(status: u16) -> String {
    match status {
        400 => "BadRequest".to_owned(),
        401 => "Unauthorized".to_owned(),
        403 => "Forbidden".to_owned(),
        404 => "NotFound".to_owned(),
        405 => "MethodNotAllowed".to_owned(),
        409 => "Conflict".to_owned(),
        410 => "Gone".to_owned(),
        413 => "PayloadTooLarge".to_owned(),
        415 => "UnsupportedMediaType".to_owned(),
        426 => "UpgradeRequired".to_owned(),
        429 => "TooManyRequests".to_owned(),
        500 => "InternalError".to_owned(),
        503 => "ServiceUnavailable".to_owned(),
        504 => "GatewayTimeout".to_owned(),
        other => format!("Problem{other}"),
    }
}

/// `status → $ref` entries for an operation's `responses`.
pub fn problem_responses(statuses: &[u16]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|&status| {
            (
                status.to_string(),
                component_ref("responses", &problem_response_name(status)),
            )
        })
        .collect()
}

/// The problem response for an HTTP status, naming the codes that use it. A 401 may carry the
/// `WWW-Authenticate` challenge.
pub fn problem_response(status: u16) -> Value {
    let codes: Vec<String> = ErrorCode::ALL
        .iter()
        .filter(|c| c.http_status() == status)
        .map(|c| format!("`{}` ({})", c.as_str(), c.title()))
        .collect();
    let mut response = json!({
        "description": format!("A problem: {}.", codes.join(", ")),
        "headers": { "X-Request-Id": component_ref("headers", "RequestId") },
        "content": { "application/problem+json": { "schema": schema_ref("Problem") } },
    });
    if status == 401 {
        response["headers"]["WWW-Authenticate"] = component_ref("headers", "WWWAuthenticate");
    }
    response
}

/// One problem response per status any error code uses, each naming its codes.
fn problem_response_components() -> Map<String, Value> {
    let statuses: BTreeSet<u16> = ErrorCode::ALL.iter().map(|c| c.http_status()).collect();
    statuses
        .into_iter()
        .map(|status| (problem_response_name(status), problem_response(status)))
        .collect()
}

fn error_code_table() -> (String, Value) {
    let mut table = String::from("| code | status | title |\n|---|---|---|\n");
    let mut codes = Vec::with_capacity(ErrorCode::ALL.len());
    for code in ErrorCode::ALL {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.http_status(),
            code.title()
        ));
        codes.push(
            json!({ "code": code.as_str(), "status": code.http_status(), "title": code.title() }),
        );
    }
    (table, Value::Array(codes))
}

const INTRODUCTION: &str = "The REST API Fathom serves for this schema. Every collection has \
list, create, get, update and delete under `/api/v1/{collection}`; `/api/v1/batch` runs several \
writes in one transaction. Accounts and sessions live under `/api/v1/auth`, administration under \
`/api/v1/admin`.\n\nOperations marked with the `bearerAuth` security requirement need an access \
token from `POST /api/v1/auth/login`, sent as `Authorization: Bearer <access_token>`; without a \
valid one they answer 401 `unauthorized`.\n\nSuccessful responses wrap their payload as `{\"data\": ..., \
\"meta\": {\"requestId\": ...}}`. Errors are `application/problem+json` (RFC 9457) with a stable \
`code`, a `hint` on how to fix the request and, for invalid fields, `errors`. Every response \
carries `X-Request-Id` (send your own to correlate logs). Every operation accepts a W3C Trace \
Context `traceparent` (and `tracestate`) header: a server that exports OpenTelemetry traces makes \
the caller's span the parent of the request's span; one that does not ignores it.\n\nEvery operation under `/api/v1` is \
rate limited per client address, user or API key and route class (read, write, auth, admin, \
realtime): answers carry the `RateLimit-Policy` and `RateLimit` fields of \
draft-ietf-httpapi-ratelimit-headers, and past the quota the answer is 429 `too_many_requests` \
with `Retry-After`.\n\n";

/// The OpenAPI 3.1 document for `schema`, with page-size bounds from `config` and the password
/// rules of `policy`.
pub fn document(schema: &Schema, config: &HttpConfig, policy: &PasswordPolicy) -> Value {
    let names = schemas::type_names(schema);

    let mut paths = Map::new();
    let mut component_schemas = Map::new();
    let mut tags = Vec::new();
    for (name, collection) in &schema.collections {
        let Some(type_name) = names.get(name) else {
            continue;
        };
        let mut items = operations::collection_paths(schema, collection, type_name);
        safe_writes::collection(collection, &mut items);
        for (path, item) in items
            .into_iter()
            .chain(safe_writes::restore_path(collection, type_name))
        {
            paths.insert(path, item);
        }
        for (suffix, shape) in [
            ("Record", RecordShape::Whole),
            ("Selected", RecordShape::Selected),
        ] {
            component_schemas.insert(
                format!("{type_name}{suffix}"),
                schemas::record_schema(schema, collection, &names, shape),
            );
        }
        component_schemas.insert(
            format!("{type_name}Create"),
            schemas::create_schema(collection),
        );
        component_schemas.insert(
            format!("{type_name}Update"),
            schemas::update_schema(collection),
        );
        let mut about = format!("Records of `{name}`.");
        if collection.soft_delete {
            about.push_str(" Deletes are soft: deleted records are kept but hidden.");
        }
        tags.push(json!({ "name": name, "description": about }));
    }
    let (mut batch_path, mut batch_request, mut batch_response) = operations::batch(schema, &names);
    safe_writes::batch(&mut batch_path, &mut batch_request, &mut batch_response);
    paths.insert("/api/v1/batch".into(), batch_path);
    component_schemas.insert("BatchRequest".into(), batch_request);
    component_schemas.insert("BatchResponse".into(), batch_response);
    for (path, item) in auth::auth_paths()
        .into_iter()
        .chain(super::passkeys::paths())
        .chain(admin::paths())
        .chain(brokers::paths())
        .chain(super::advice::paths())
        .chain(webhooks::paths())
        .chain(events::paths())
        .chain(operations::service_paths())
        .chain(realtime::paths())
        .chain(totp::paths())
    {
        paths.insert(path, item);
    }
    if let crate::MetricsExposure::Token { .. } = config.metrics {
        let (path, item) = metrics::path();
        paths.insert(path, item);
    }
    tags.push(json!({ "name": "Batch", "description": "Several writes in one transaction." }));
    tags.extend(auth::tags());
    tags.push(json!({ "name": events::EVENTS_TAG, "description": "The change feed: every committed change, in order." }));
    tags.push(json!({ "name": "Service", "description": "Probes and this document." }));
    tags.push(realtime::tag());
    component_schemas.extend(auth::schemas(policy));
    component_schemas.insert("ProfileChanges".into(), auth::profile_changes(schema));
    component_schemas.extend(super::passkeys::schemas());
    component_schemas.extend(admin::schemas());
    component_schemas.extend(brokers::schemas());
    component_schemas.extend(super::advice::schemas());
    component_schemas.extend(webhooks::schemas());
    component_schemas.extend(realtime::schemas());
    component_schemas.extend(events::schemas());
    component_schemas.extend(totp::schemas());

    component_schemas.insert("Meta".into(), shared::meta_schema());
    component_schemas.insert("ListMeta".into(), shared::list_meta_schema());
    component_schemas.insert("Problem".into(), shared::problem_schema());
    component_schemas.insert("FieldProblem".into(), shared::field_problem_schema());

    let mut headers = Map::new();
    headers.insert(
        "RequestId".into(),
        json!({
            "description": "The request id: the one sent, if well-formed, or a new UUIDv7.",
            "required": true,
            "schema": { "type": "string" },
        }),
    );
    headers.insert(
        "Location".into(),
        json!({
            "description": "The path of the created record.",
            "required": true,
            "schema": { "type": "string" },
        }),
    );
    headers.extend(auth::header_components());
    headers.extend(safe_writes::header_components());

    let (table, codes) = error_code_table();
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Fathom API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("{INTRODUCTION}Error codes:\n\n{table}"),
        },
        "servers": [{ "url": "/" }],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": component_schemas,
            "parameters": operations::parameters(config.default_page_size, config.max_page_size),
            "responses": problem_response_components(),
            "headers": headers,
            "securitySchemes": auth::security_schemes(),
        },
        "x-error-codes": codes,
    });
    super::rate_limits::annotate(&mut document);
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether any `oneOf`, `anyOf` or `enum` is empty (invalid JSON Schema).
    fn has_empty_union(value: &Value) -> bool {
        match value {
            Value::Object(object) => object.iter().any(|(key, value)| {
                (matches!(key.as_str(), "oneOf" | "anyOf" | "enum")
                    && value.as_array().is_some_and(Vec::is_empty))
                    || has_empty_union(value)
            }),
            Value::Array(items) => items.iter().any(has_empty_union),
            _ => false,
        }
    }

    /// Every `operationId` of a document.
    fn operation_ids(document: &Value) -> Vec<String> {
        let mut ids = Vec::new();
        for item in document["paths"]
            .as_object()
            .into_iter()
            .flat_map(Map::values)
        {
            for operation in item.as_object().into_iter().flat_map(Map::values) {
                if let Some(id) = operation["operationId"].as_str() {
                    ids.push(id.to_owned());
                }
            }
        }
        ids
    }

    #[test]
    fn collection_names_never_collide_with_the_fixed_names() {
        // Collections whose derived names come closest to the fixed operation ids and schemas.
        let names = [
            "user",
            "session",
            "admin_user",
            "token_pair",
            "audit_entry",
            "user_changes",
            "problem",
            "meta",
            "batch_request",
        ];
        let source: String = names
            .iter()
            .map(|name| format!("[collections.{name}]\nfields.a = {{ type = \"text\" }}\n"))
            .collect();
        let schema = fathom_schema::parse_schema("t", &source).unwrap();
        let fixed = document(
            &Schema::default(),
            &HttpConfig::default(),
            &PasswordPolicy::default(),
        );
        let document = document(&schema, &HttpConfig::default(), &PasswordPolicy::default());

        let ids = operation_ids(&document);
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert_eq!(ids.len(), operation_ids(&fixed).len() + 5 * names.len());

        let count = |d: &Value| d["components"]["schemas"].as_object().map_or(0, Map::len);
        assert_eq!(count(&document), count(&fixed) + 4 * names.len());
        let tags = document["tags"].as_array().map_or(0, Vec::len);
        assert_eq!(
            tags,
            fixed["tags"].as_array().map_or(0, Vec::len) + names.len()
        );
    }

    #[test]
    fn a_schema_without_collections_still_gives_a_valid_document() {
        let document = document(
            &Schema::default(),
            &HttpConfig::default(),
            &PasswordPolicy::default(),
        );
        assert_eq!(document["openapi"], "3.1.0");
        assert!(!has_empty_union(&document), "{document:#}");
        assert_eq!(
            document["components"]["schemas"]["BatchRequest"]["properties"]["operations"]["items"],
            false
        );
    }
}
