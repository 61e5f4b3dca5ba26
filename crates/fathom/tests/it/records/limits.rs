//! Request limits: body size and JSON nesting depth, at their boundaries, and a hostile body that
//! must be refused without harming the server.

use serde_json::{Value, json};

use super::support::{id_of, post_raw, send_raw};
use crate::helpers::{TEST_SCHEMA, assert_problem, json_with_status, spawn_app, spawn_app_with};

const LIMIT: usize = 2048;

/// A `notes` body of exactly `len` bytes.
fn note_body_of_len(len: usize) -> String {
    let frame = r#"{"body":""}"#.len();
    let body = format!(r#"{{"body":"{}"}}"#, "x".repeat(len - frame));
    assert_eq!(body.len(), len);
    body
}

/// `depth - 1` nested arrays around `1`, as a `meta` value, so the whole body nests `depth` deep.
fn item_with_depth(depth: usize) -> String {
    let inner = depth - 1;
    format!(
        r#"{{"title":"Deep","meta":{}1{}}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

#[tokio::test]
async fn a_body_over_the_limit_is_payload_too_large() {
    let app = spawn_app_with(TEST_SCHEMA, |config| config.server.body_limit_bytes = LIMIT).await;
    let at_limit = post_raw(&app, "/api/v1/notes", note_body_of_len(LIMIT)).await;
    let created = json_with_status(at_limit, 201).await;
    assert_eq!(
        created["data"]["body"].as_str().map(str::len),
        Some(LIMIT - 11),
        "a body of exactly the limit is accepted"
    );

    let problem = assert_problem(
        post_raw(&app, "/api/v1/notes", note_body_of_len(LIMIT + 1)).await,
        413,
        "payload_too_large",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("2048")),
        "the detail names the limit: {problem}"
    );

    let path = format!("/api/v1/notes/{}", id_of(&created["data"]));
    let patch = send_raw(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some("application/json"),
        note_body_of_len(LIMIT + 1),
    )
    .await;
    assert_problem(patch, 413, "payload_too_large").await;

    // Far over the limit, too.
    let huge = post_raw(&app, "/api/v1/notes", note_body_of_len(LIMIT * 100)).await;
    assert_problem(huge, 413, "payload_too_large").await;

    let list = json_with_status(app.get("/api/v1/notes?count=true").await, 200).await;
    assert_eq!(
        list["meta"]["page"]["total"], 1,
        "only the body within the limit was stored"
    );
    assert_eq!(
        list["data"][0], created["data"],
        "the refused patch changed nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_default_body_limit_is_one_mebibyte() {
    let app = spawn_app(TEST_SCHEMA).await;
    let at_limit = post_raw(&app, "/api/v1/notes", note_body_of_len(1024 * 1024)).await;
    assert_eq!(at_limit.status(), 201);
    let over = post_raw(&app, "/api/v1/notes", note_body_of_len(1024 * 1024 + 1)).await;
    assert_problem(over, 413, "payload_too_large").await;
    app.stop().await;
}

#[tokio::test]
async fn nesting_deeper_than_32_is_json_too_deep() {
    let app = spawn_app(TEST_SCHEMA).await;
    let accepted = json_with_status(
        post_raw(&app, "/api/v1/items", item_with_depth(32)).await,
        201,
    )
    .await;
    let mut expected = json!(1);
    for _ in 0..31 {
        expected = Value::Array(vec![expected]);
    }
    assert_eq!(
        accepted["data"]["meta"], expected,
        "32 levels are accepted and round-trip"
    );

    let problem = assert_problem(
        post_raw(&app, "/api/v1/items", item_with_depth(33)).await,
        400,
        "json_too_deep",
    )
    .await;
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains("32")),
        "the detail names the limit: {problem}"
    );
    let objects = format!(
        r#"{{"title":"Deep","meta":{}1{}}}"#,
        r#"{"a":"#.repeat(32),
        "}".repeat(32)
    );
    assert_problem(
        post_raw(&app, "/api/v1/items", objects).await,
        400,
        "json_too_deep",
    )
    .await;

    // Brackets inside strings are text, not nesting.
    let in_string = json!({"title": "Deep", "meta": {"text": "[".repeat(1000)}});
    let created = app.create("items", &in_string).await;
    assert_eq!(created["meta"]["text"].as_str().map(str::len), Some(1000));

    let path = format!("/api/v1/items/{}", id_of(&created));
    let patch = send_raw(
        &app,
        reqwest::Method::PATCH,
        &path,
        Some("application/json"),
        item_with_depth(33),
    )
    .await;
    assert_problem(patch, 400, "json_too_deep").await;
    let list = json_with_status(app.get("/api/v1/items?count=true").await, 200).await;
    assert_eq!(list["meta"]["page"]["total"], 2);
    app.stop().await;
}

#[tokio::test]
async fn a_configured_depth_limit_is_honoured() {
    let app = spawn_app_with(TEST_SCHEMA, |config| config.server.json_depth_limit = 4).await;
    assert_eq!(
        post_raw(&app, "/api/v1/items", item_with_depth(4))
            .await
            .status(),
        201
    );
    assert_problem(
        post_raw(&app, "/api/v1/items", item_with_depth(5)).await,
        400,
        "json_too_deep",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_open_brackets_are_refused_and_the_server_lives_on() {
    let app = spawn_app(TEST_SCHEMA).await;
    let hostile = "[".repeat(100_000);
    assert_problem(
        post_raw(&app, "/api/v1/items", hostile.clone()).await,
        400,
        "json_too_deep",
    )
    .await;
    let wrapped = format!(r#"{{"title":"Deep","meta":{hostile}"#);
    assert_problem(
        post_raw(&app, "/api/v1/items", wrapped).await,
        400,
        "json_too_deep",
    )
    .await;
    let balanced = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    assert_problem(
        post_raw(&app, "/api/v1/notes", balanced).await,
        400,
        "json_too_deep",
    )
    .await;

    let health = json_with_status(app.get("/health").await, 200).await;
    assert_eq!(health["status"], "ok");
    let created = app.create("notes", &json!({"body": "still here"})).await;
    assert_eq!(created["body"], "still here");
    app.stop().await;
}

/// An over-long request target and oversized headers are refused with problem+json (414, 431),
/// not the empty answers hyper writes by itself; at the limits they are routed.
#[tokio::test]
async fn an_oversized_request_head_is_a_problem_not_an_empty_answer() {
    let app = spawn_app(TEST_SCHEMA).await;
    // `x` needs no escaping; the quotes and spaces around it do, so lengths are measured on
    // the target as sent.
    let target_of = |len: usize| format!("/api/v1/notes?filter=body = \"{}\"", "x".repeat(len));
    let sent_len = |target: &str| {
        let url = reqwest::Url::parse(&app.url(target)).expect("a URL");
        url.path().len() + 1 + url.query().map_or(0, str::len)
    };
    let padding = 16 * 1024 - sent_len(&target_of(0));
    let at_limit = target_of(padding);
    assert_eq!(sent_len(&at_limit), 16 * 1024);
    // At the limit the request is routed: the filter's own, lower limit answers.
    assert_problem(app.get(&at_limit).await, 400, "invalid_query").await;
    let over = target_of(padding + 1);
    let problem = assert_problem(app.get(&over).await, 414, "uri_too_long").await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("16384")),
        "{problem}"
    );
    // Far over: still ours, up to hyper's own 64 KiB.
    let far = target_of(60_000);
    assert_problem(app.get(&far).await, 414, "uri_too_long").await;

    let with_headers = |count: usize, value_len: usize| {
        let mut request = app.client.get(app.url("/api/v1/notes"));
        for i in 0..count {
            request = request.header(format!("x-extra-{i}"), "v".repeat(value_len));
        }
        request.send()
    };
    let many = with_headers(150, 1).await.expect("sent");
    assert_problem(many, 431, "request_headers_too_large").await;
    let big = with_headers(1, 40 * 1024).await.expect("sent");
    assert_problem(big, 431, "request_headers_too_large").await;
    let many_but_allowed = with_headers(90, 100).await.expect("sent");
    json_with_status(many_but_allowed, 200).await;
    let health = json_with_status(app.get("/health").await, 200).await;
    assert_eq!(health["status"], "ok");
    app.stop().await;
}
