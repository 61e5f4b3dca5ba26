//! Every operation under `/api/v1` is rate limited (`crate::limits`): each of its answers may
//! carry the `RateLimit-Policy` and `RateLimit` fields, and a 429 with `Retry-After` joins its
//! responses. Done as one pass over the finished document, so no operation can be forgotten; a
//! response given as a `$ref` is written out, since a `$ref` cannot take headers of its own.

use serde_json::{Map, Value};

use super::auth::RATE_LIMIT_HEADERS;
use super::document::{component_ref, problem_response};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Documents the rate-limit fields and the 429 on every `/api/v1` operation of `document`.
pub(super) fn annotate(document: &mut Value) {
    let components = document["components"]["responses"].clone();
    let limit_headers: Vec<(String, Value)> = RATE_LIMIT_HEADERS
        .iter()
        .map(|(name, component)| ((*name).to_owned(), component_ref("headers", component)))
        .collect();
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            responses
                .entry("429")
                .or_insert_with(|| problem_response(429));
            for (status, response) in responses.iter_mut() {
                inline(response, &components);
                add_headers(response, &limit_headers);
                if status == "429" {
                    add_headers(
                        response,
                        &[(
                            "Retry-After".to_owned(),
                            component_ref("headers", "RetryAfter"),
                        )],
                    );
                }
            }
        }
    }
}

/// Replaces a `$ref` to `#/components/responses/X` with a copy of X.
fn inline(response: &mut Value, components: &Value) {
    let Some(name) = response
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/responses/"))
    else {
        return;
    };
    if let Some(resolved) = components.get(name) {
        *response = resolved.clone();
    }
}

/// Adds `headers` to a response object's `headers` (keeping any already there).
fn add_headers(response: &mut Value, headers: &[(String, Value)]) {
    if let Some(object) = response.as_object_mut()
        && let Some(map) = object
            .entry("headers")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
    {
        for (name, value) in headers {
            map.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
}
