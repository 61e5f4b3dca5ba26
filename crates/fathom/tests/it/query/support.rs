//! Helpers shared by the query tests: URL encoding, reading pages, and the `invalid_query` shape.

use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, json_with_status};

/// Percent-encodes a query-parameter value (everything but RFC 3986's unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /api/v1/{collection}?filter=<encoded filter>` plus `extra` (already encoded, may be
/// empty), expecting a 200; returns the whole body.
pub async fn list_filtered(app: &TestApp, collection: &str, filter: &str, extra: &str) -> Value {
    let mut path = format!("/api/v1/{collection}?limit=100&filter={}", encode(filter));
    if !extra.is_empty() {
        path.push('&');
        path.push_str(extra);
    }
    json_with_status(app.get(&path).await, 200).await
}

/// GETs `path`, expecting a 200; returns the whole body.
pub async fn get_ok(app: &TestApp, path: &str) -> Value {
    json_with_status(app.get(path).await, 200).await
}

/// The records of a list body.
pub fn data(body: &Value) -> &Vec<Value> {
    body["data"].as_array().expect("data is an array")
}

/// The values of `key` in every record of a list body, in order (as strings; null as "null").
pub fn column(body: &Value, key: &str) -> Vec<String> {
    data(body)
        .iter()
        .map(|r| match &r[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// The ids of the records of a list body, in order.
pub fn ids(body: &Value) -> Vec<String> {
    column(body, "id")
}

/// The values of `key` of the records matching `filter` on `collection`, sorted, so that a result
/// set compares independently of order.
pub async fn matching(app: &TestApp, collection: &str, filter: &str, key: &str) -> Vec<String> {
    let body = list_filtered(app, collection, filter, "").await;
    let mut values = column(&body, key);
    values.sort();
    values
}

/// Sorted owned strings, to compare with [`matching`].
pub fn set(values: &[&str]) -> Vec<String> {
    let mut values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    values.sort();
    values
}

/// Asserts a 400 `invalid_query` whose first error names `parameter`; returns the problem.
pub async fn assert_invalid_query(response: reqwest::Response, parameter: &str) -> Value {
    let problem = assert_problem(response, 400, "invalid_query").await;
    assert_eq!(
        problem["errors"][0]["field"], parameter,
        "the error names the parameter: {problem}"
    );
    problem
}

/// Asserts that `GET path` is a 400 `invalid_query` naming `parameter`; returns the problem.
pub async fn assert_rejected(app: &TestApp, path: &str, parameter: &str) -> Value {
    let response = app.get(path).await;
    if response.status() != 400 {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let shown: String = body.chars().take(600).collect();
        panic!("GET {path} must be refused naming `{parameter}`, but got {status}: {shown}");
    }
    assert_invalid_query(response, parameter).await
}

/// The problem's `detail`.
pub fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().expect("detail is a string")
}

/// The problem's `hint`.
pub fn hint(problem: &Value) -> &str {
    problem["hint"].as_str().expect("hint is a string")
}

/// The id of the first record of `collection` whose `key` equals `value`.
pub async fn id_where(app: &TestApp, collection: &str, key: &str, value: &str) -> String {
    let body = list_filtered(app, collection, &format!("{key} = \"{value}\""), "").await;
    let found = ids(&body);
    assert_eq!(
        found.len(),
        1,
        "exactly one {collection} has {key} = {value}"
    );
    found[0].clone()
}

/// Walks every page of `path` (which must already hold `?`) with `cursor`, returning the ids in
/// order and asserting the `meta.page` shape of each page.
pub async fn walk_pages(app: &TestApp, path: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(cursor) => format!("{path}&cursor={}", encode(cursor)),
            None => path.to_owned(),
        };
        let body = get_ok(app, &url).await;
        let page = &body["meta"]["page"];
        assert_eq!(
            page["offset"], 0,
            "offset is 0 on every cursor page: {page}"
        );
        all.extend(ids(&body));
        match page["next"].as_str() {
            Some(cursor) => {
                assert_eq!(
                    data(&body).len() as u64,
                    page["limit"].as_u64().expect("limit"),
                    "a page with a next cursor is full"
                );
                next = Some(cursor.to_owned());
            }
            None => {
                assert!(page["next"].is_null(), "next is null on the last page");
                return all;
            }
        }
        assert!(all.len() <= 10_000, "paging does not end");
    }
}
