//! `ifMatch` on batch operations: the record's ETag (as the `ETag` header carries it) on an
//! update or delete; a stale one fails the whole batch with 412 naming the operation; a
//! collection with `require_if_match` answers 428 for an operation without it; malformed values
//! are 400. Results carry each written record's `etag`.

use serde_json::{Value, json};

use super::conditional::{SCHEMA, create, etag_of};
use crate::helpers::{assert_problem, json_with_status, spawn_app};

fn batch(operations: Value) -> Value {
    json!({ "operations": operations })
}

#[tokio::test]
async fn batch_operations_take_if_match_and_a_stale_one_applies_nothing() {
    let app = spawn_app(SCHEMA).await;
    let (a, a_tag) = create(&app, "notes", json!({"body": "a"})).await;
    let (b, b_tag) = create(&app, "ledgers", json!({"balance": 5})).await;

    let ok = json_with_status(
        app.post_json(
            "/api/v1/batch",
            &batch(json!([
                {"op": "update", "collection": "notes", "id": a, "body": {"body": "a2"}, "ifMatch": a_tag},
                {"op": "update", "collection": "ledgers", "id": b, "body": {"balance": 6}, "ifMatch": b_tag},
                {"op": "create", "collection": "notes", "body": {"body": "c"}},
            ])),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(ok["data"][0]["etag"], format!("\"{a}.2\""));
    assert_eq!(ok["data"][1]["etag"], format!("\"{b}.2\""));
    let c = ok["data"][2]["id"].as_str().unwrap().to_owned();
    assert_eq!(ok["data"][2]["etag"], format!("\"{c}.1\""));
    // The batch's ETags are the records' own.
    assert_eq!(
        etag_of(&app.get(&format!("/api/v1/notes/{a}")).await),
        format!("\"{a}.2\"")
    );

    // a_tag is stale now: the batch fails at operation 1 and the create before it is undone.
    let response = app
        .post_json(
            "/api/v1/batch",
            &batch(json!([
                {"op": "create", "collection": "notes", "body": {"body": "undone"}},
                {"op": "delete", "collection": "notes", "id": a, "ifMatch": a_tag},
            ])),
        )
        .await;
    assert_eq!(etag_of(&response), format!("\"{a}.2\""));
    let problem = assert_problem(response, 412, "precondition_failed").await;
    assert_eq!(problem["errors"][0]["field"], "operations[1]", "{problem}");
    let listed = json_with_status(app.get("/api/v1/notes?count=true").await, 200).await;
    assert_eq!(listed["meta"]["page"]["total"], 2, "nothing was applied");

    // The unquoted form is taken too, for clients that store the bare tag.
    let bare = format!("{a}.2");
    json_with_status(
        app.post_json(
            "/api/v1/batch",
            &batch(json!([{"op": "update", "collection": "notes", "id": a, "body": {"body": "a3"}, "ifMatch": bare}])),
        )
        .await,
        200,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn batch_if_match_is_required_where_the_collection_says_and_checked_for_form() {
    let app = spawn_app(SCHEMA).await;
    let (b, b_tag) = create(&app, "ledgers", json!({"balance": 5})).await;
    let (n, n_tag) = create(&app, "notes", json!({"body": "n"})).await;

    let missing = app
        .post_json(
            "/api/v1/batch",
            &batch(json!([
                {"op": "update", "collection": "notes", "id": n, "body": {"body": "fine"}},
                {"op": "delete", "collection": "ledgers", "id": b},
            ])),
        )
        .await;
    let problem = assert_problem(missing, 428, "precondition_required").await;
    assert_eq!(problem["errors"][0]["field"], "operations[1].ifMatch");

    let weak = format!("W/{n_tag}");
    for (value, status, code, reason) in [
        (json!("*"), 400, "invalid_precondition", "wildcard"),
        (json!(weak), 400, "invalid_precondition", "weak"),
        (
            json!(format!("{n_tag},{n_tag}")),
            400,
            "invalid_precondition",
            "list",
        ),
        (json!(3), 400, "validation_failed", "invalid_operation"),
    ] {
        let response = app
            .post_json(
                "/api/v1/batch",
                &batch(json!([{"op": "update", "collection": "notes", "id": n, "body": {"body": "x"}, "ifMatch": value}])),
            )
            .await;
        let problem = assert_problem(response, status, code).await;
        assert_eq!(
            problem["errors"][0]["field"], "operations[0].ifMatch",
            "{problem}"
        );
        assert_eq!(problem["errors"][0]["code"], reason, "{problem}");
    }
    let on_create = app
        .post_json(
            "/api/v1/batch",
            &batch(json!([{"op": "create", "collection": "notes", "body": {"body": "x"}, "ifMatch": n_tag}])),
        )
        .await;
    assert_problem(on_create, 400, "validation_failed").await;
    let stored = json_with_status(app.get(&format!("/api/v1/ledgers/{b}")).await, 200).await;
    assert_eq!(stored["data"]["version"], 1);
    let _ = b_tag;
    app.stop().await;
}
