//! `GET /metrics` in the document, when the main listener serves it (behind the metrics token;
//! a metrics listener of its own is not this API and is not described here).

use serde_json::{Value, json};

use super::auth::BEARER_AUTH;
use super::operations::responses;

/// The path item of `/metrics`.
pub fn path() -> (String, Value) {
    let exposition = json!({
        "description": "The Prometheus text exposition format, version 0.0.4 (`docs/OPERATIONS.md` lists the metrics).",
        "headers": { "X-Request-Id": super::document::component_ref("headers", "RequestId") },
        "content": { "text/plain; version=0.0.4; charset=utf-8": { "schema": { "type": "string" } } },
    });
    (
        "/metrics".to_owned(),
        json!({ "get": {
            "tags": ["Service"],
            "operationId": "scrapeMetrics",
            "summary": "Prometheus metrics",
            "description": "This node's metrics. Needs the bearer token from the file named by `metrics.token_file` (not a user's access token).",
            "security": [{ BEARER_AUTH: [] }],
            "responses": responses(&[("200", exposition)], &[401, 500]),
        }}),
    )
}
