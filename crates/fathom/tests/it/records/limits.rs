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
