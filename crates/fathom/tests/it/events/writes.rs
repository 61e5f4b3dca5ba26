//! REST writes and their outbox events.

use serde_json::{Value, json};

use crate::helpers::{assert_problem, json_with_status, spawn_app};

const SCHEMA: &str = r#"
[collections.posts]
soft_delete = true
fields.title  = { type = "text", required = true, unique = true }
fields.secret = { type = "text", hidden = true }

[collections.tags]
fields.name = { type = "text", required = true }
"#;

async fn feed(app: &crate::helpers::TestApp, query: &str) -> Value {
    json_with_status(app.get(&format!("/api/v1/events{query}")).await, 200).await
}

fn sequences(page: &Value) -> Vec<i64> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["sequence"].as_i64().expect("sequence"))
        .collect()
}

#[tokio::test]
async fn rest_writes_append_events_with_the_caller_and_the_request_id() {
    let app = spawn_app(SCHEMA).await;
    let response = app
        .client
        .post(app.url("/api/v1/posts"))
        .header("x-request-id", "create-post-1")
        .json(&json!({"title": "Hello", "secret": "s"}))
        .send()
        .await
        .expect("sent");
    let post = json_with_status(response, 201).await["data"].clone();
    let id = post["id"].as_str().expect("id").to_owned();
    json_with_status(
        app.patch_json(
            &format!("/api/v1/posts/{id}"),
            &json!({"title": "Hello again"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/posts/{id}")).await.status(),
        204
    );
    json_with_status(
        app.post_json(
            "/api/v1/batch",
            &json!({"operations": [
                {"op": "create", "collection": "tags", "body": {"name": "a"}},
                {"op": "create", "collection": "posts", "body": {"title": "Second"}},
                {"op": "create", "collection": "tags", "body": {"name": "b"}},
            ]}),
        )
        .await,
        200,
    )
    .await;

    let page = feed(&app, "").await;
    assert_eq!(sequences(&page), [1, 2, 3, 4, 5, 6]);
    assert_eq!(page["meta"]["next"], 6);
    assert_eq!(page["meta"]["latest"], 6);
    assert_eq!(page["meta"]["oldest"], 1);
    let events = page["data"].as_array().expect("data");
    let shape: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().expect("operation"),
                e["collection"].as_str().expect("collection"),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("create", "posts"),
            ("update", "posts"),
            ("delete", "posts"),
            ("create", "tags"),
            ("create", "posts"),
            ("create", "tags"),
        ]
    );
    let created = &events[0];
    assert_eq!(created["record_id"], id.as_str());
    assert_eq!(created["version"], 1);
    assert_eq!(created["request_id"], "create-post-1");
    assert_eq!(created["actor"]["type"], "user");
    assert!(created["actor"]["id"].is_string());
    assert_eq!(created["tenant"], Value::Null);
    assert_eq!(created["changed"], json!(["title", "secret"]));
    // The record as REST returns it to an administrator, hidden fields included.
    assert_eq!(created["record"], post);
    assert_eq!(events[1]["changed"], json!(["title"]));
    assert_eq!(events[1]["record"]["title"], "Hello again");
    assert_eq!(events[2]["version"], 3);
    assert!(events[0]["id"].is_string() && events[0]["committed_at"].is_string());
}

#[tokio::test]
async fn a_refused_write_or_a_failed_batch_appends_no_event() {
    let app = spawn_app(SCHEMA).await;
    app.create("posts", &json!({"title": "Taken"})).await;
    assert_problem(
        app.post_json("/api/v1/posts", &json!({"title": "Taken"}))
            .await,
        409,
        "unique_violation",
    )
    .await;
    assert_problem(
        app.post_json("/api/v1/posts", &json!({"title": 5})).await,
        400,
        "validation_failed",
    )
    .await;
    let failed = app
        .post_json(
            "/api/v1/batch",
            &json!({"operations": [
                {"op": "create", "collection": "tags", "body": {"name": "x"}},
                {"op": "create", "collection": "posts", "body": {"title": "Taken"}},
            ]}),
        )
        .await;
    assert_eq!(failed.status(), 409);
    app.create("tags", &json!({"name": "after"})).await;
    let page = feed(&app, "").await;
    assert_eq!(
        sequences(&page),
        [1, 2],
        "no event and no gap from the failures"
    );
    assert_eq!(page["data"][1]["record"]["name"], "after");
}
