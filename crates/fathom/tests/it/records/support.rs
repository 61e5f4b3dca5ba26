//! Helpers shared by the records tests.

use serde_json::Value;

use crate::helpers::{TestApp, assert_problem};

/// Sends `body` as raw bytes with the given `Content-Type` (or none), to reach the body
/// extractor's own checks rather than reqwest's JSON serializer.
pub async fn send_raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.expect("request sent")
}

/// POSTs raw bytes as `application/json`.
pub async fn post_raw(
    app: &TestApp,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    send_raw(
        app,
        reqwest::Method::POST,
        path,
        Some("application/json"),
        body,
    )
    .await
}

/// The `(field, code)` pairs of a validation problem's `errors`, in the order the server gave.
pub fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .expect("errors is an array")
        .iter()
        .map(|e| {
            assert!(
                e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "every field error has a message: {e}"
            );
            (
                e["field"].as_str().expect("field is a string").to_owned(),
                e["code"].as_str().expect("code is a string").to_owned(),
            )
        })
        .collect()
}

/// Owned `(field, code)` pairs, for comparing with [`field_errors`].
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

/// Asserts a 400 `validation_failed` whose `errors` are exactly `expected`, in order.
pub async fn assert_validation(response: reqwest::Response, expected: &[(&str, &str)]) -> Value {
    let problem = assert_problem(response, 400, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        pairs(expected),
        "problem: {problem}"
    );
    problem
}

/// Whether `text` is a canonical timestamp: `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC, fixed width.
pub fn is_canonical_timestamp(text: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE).all(|(b, &s)| {
            if s == b'd' {
                b.is_ascii_digit()
            } else {
                b == s
            }
        })
}

/// Fetches every record of `collection` by paging with `limit=100`, returning them in order.
pub async fn list_all(app: &TestApp, collection: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = format!("/api/v1/{collection}?limit=100");
    loop {
        let page = crate::helpers::json_with_status(app.get(&path).await, 200).await;
        let records = page["data"].as_array().expect("data is an array").clone();
        all.extend(records);
        match page["meta"]["page"]["next"].as_str() {
            Some(next) => path = format!("/api/v1/{collection}?limit=100&cursor={next}"),
            None => return all,
        }
    }
}

/// The `id` of a record as a string.
pub fn id_of(record: &Value) -> String {
    record["id"]
        .as_str()
        .expect("record has a string id")
        .to_owned()
}
