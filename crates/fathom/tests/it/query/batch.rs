//! `POST /api/v1/batch`: creates, updates and deletes across collections in one transaction. A
//! failing operation writes nothing and answers with that operation's own error, its fields
//! prefixed `operations[N].`; a malformed batch is a 400 naming the offending part.

use serde_json::{Value, json};

use super::support::get_ok;
use crate::helpers::{TEST_SCHEMA, TestApp, assert_problem, json_with_status, spawn_app};

pub(super) async fn batch(app: &TestApp, body: &Value) -> reqwest::Response {
    app.post_json("/api/v1/batch", body).await
}

async fn total(app: &TestApp, collection: &str) -> u64 {
    get_ok(app, &format!("/api/v1/{collection}?count=true&limit=1")).await["meta"]["page"]["total"]
        .as_u64()
        .expect("total")
}

/// The number of records in each collection of the test schema.
pub(super) async fn totals(app: &TestApp) -> Vec<u64> {
    let mut totals = Vec::new();
    for collection in ["categories", "items", "notes"] {
        totals.push(total(app, collection).await);
    }
    totals
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect()
}

/// The `(field, code)` pairs of a problem's `errors`.
pub(super) fn error_pairs(problem: &Value) -> Vec<(&str, &str)> {
    problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().expect("field"),
                e["code"].as_str().expect("code"),
            )
        })
        .collect()
}

/// Whether the problem's detail names operation `n` ("operation 2" or "operations[2]").
pub(super) fn names_operation(problem: &Value, n: usize) -> bool {
    let detail = problem["detail"]
        .as_str()
        .expect("detail")
        .to_ascii_lowercase();
    detail.contains(&format!("operation {n}")) || detail.contains(&format!("operations[{n}]"))
}

/// Asserts a 400 problem+json whose first error names `field`; returns it.
pub(super) async fn assert_shape_error(response: reqwest::Response, field: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let problem = json_with_status(response, 400).await;
    assert_eq!(content_type, "application/problem+json", "{problem}");
    assert_eq!(problem["status"], 400, "{problem}");
    assert!(
        problem["code"].is_string() && problem["detail"].is_string(),
        "{problem}"
    );
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    problem
}

/// Fails early, and clearly, when the server does not serve the endpoint at all.
async fn require_batch_endpoint(app: &TestApp) {
    let response = batch(app, &json!({"operations": []})).await;
    assert!(
        response.status() != 404 && response.status() != 405,
        "POST /api/v1/batch is not served: {}",
        response.status()
    );
}

#[tokio::test]
async fn mixed_operations_commit_together_and_answer_in_order() {
    let app = spawn_app(TEST_SCHEMA).await;
    require_batch_endpoint(&app).await;
    let kept = app.create("notes", &json!({"body": "keep me"})).await;
    let doomed = app.create("notes", &json!({"body": "delete me"})).await;
    let item = app
        .create("items", &json!({"title": "Lamp", "qty": 3}))
        .await;
    let (kept_id, doomed_id, item_id) = (
        kept["id"].as_str().expect("id"),
        doomed["id"].as_str().expect("id"),
        item["id"].as_str().expect("id"),
    );

    let response = batch(
        &app,
        &json!({"operations": [
            {"op": "create", "collection": "notes", "body": {"body": "new note"}},
            {"op": "update", "collection": "notes", "id": kept_id, "body": {"body": "kept, edited"}},
            {"op": "delete", "collection": "notes", "id": doomed_id},
            {"op": "create", "collection": "categories", "body": {"name": "Lighting"}},
            {"op": "update", "collection": "items", "id": item_id, "body": {"qty": 4}},
            {"op": "delete", "collection": "items", "id": item_id},
        ]}),
    )
    .await;
    let body = json_with_status(response, 200).await;
    assert!(body["meta"].is_object(), "{body}");
    let results = body["data"].as_array().expect("data is an array");
    assert_eq!(results.len(), 6, "one result per operation: {body}");
    let ops: Vec<&str> = results
        .iter()
        .map(|r| r["op"].as_str().expect("op"))
        .collect();
    assert_eq!(
        ops,
        ["create", "update", "delete", "create", "update", "delete"]
    );

    let created = &results[0];
    assert_eq!(created["record"]["body"], "new note");
    assert_eq!(created["record"]["version"], 1);
    assert_eq!(created["id"], created["record"]["id"]);
    let fetched = get_ok(
        &app,
        &format!("/api/v1/notes/{}", created["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(
        fetched["data"], created["record"],
        "the record returned is the record stored"
    );

    assert_eq!(results[1]["id"], kept_id);
    assert_eq!(results[1]["record"]["body"], "kept, edited");
    assert_eq!(results[1]["record"]["version"], 2);
    assert_eq!(
        get_ok(&app, &format!("/api/v1/notes/{kept_id}")).await["data"]["body"],
        "kept, edited"
    );

    assert_eq!(results[2], json!({"op": "delete", "id": doomed_id}));
    assert_problem(
        app.get(&format!("/api/v1/notes/{doomed_id}")).await,
        404,
        "record_not_found",
    )
    .await;

    assert_eq!(results[3]["record"]["name"], "Lighting");
    assert_eq!(
        results[4]["record"]["qty"], 4,
        "later operations see earlier ones"
    );
    assert_eq!(results[5]["id"], item_id);
    assert_problem(
        app.get(&format!("/api/v1/items/{item_id}")).await,
        404,
        "record_not_found",
    )
    .await;
    assert_eq!(totals(&app).await, [1, 0, 2]);
    app.stop().await;
}

#[tokio::test]
async fn a_failing_operation_writes_nothing_and_names_itself() {
    let app = spawn_app(TEST_SCHEMA).await;
    require_batch_endpoint(&app).await;
    let kept = app.create("notes", &json!({"body": "keep me"})).await;
    let kept_id = kept["id"].as_str().expect("id");
    let category = app.create("categories", &json!({"name": "Lighting"})).await;
    let before = totals(&app).await;

    // A validation error at operation 2.
    let response = batch(
        &app,
        &json!({"operations": [
            {"op": "create", "collection": "notes", "body": {"body": "not written"}},
            {"op": "update", "collection": "notes", "id": kept_id, "body": {"body": "not changed"}},
            {"op": "create", "collection": "items", "body": {"title": "A", "qty": 1001}},
            {"op": "create", "collection": "categories", "body": {"name": "Also not written"}},
        ]}),
    )
    .await;
    let problem = assert_problem(response, 400, "validation_failed").await;
    let mut named = fields(&problem);
    named.sort_unstable();
    assert_eq!(
        named,
        ["operations[2].qty", "operations[2].title"],
        "{problem}"
    );
    assert!(
        names_operation(&problem, 2),
        "the detail names operation 2: {problem}"
    );
    assert_eq!(totals(&app).await, before, "nothing was written");
    assert_eq!(
        get_ok(&app, &format!("/api/v1/notes/{kept_id}")).await["data"],
        kept
    );

    // Not found at operation 1 (an update) and at operation 3 (a delete).
    let missing = uuid::Uuid::now_v7().to_string();
    let problem = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "notes", "body": {"body": "not written"}},
                {"op": "update", "collection": "notes", "id": missing, "body": {"body": "x"}},
            ]}),
        )
        .await,
        404,
        "record_not_found",
    )
    .await;
    assert!(names_operation(&problem, 1), "{problem}");
    let problem = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "delete", "collection": "notes", "id": kept_id},
                {"op": "create", "collection": "notes", "body": {"body": "x"}},
                {"op": "create", "collection": "notes", "body": {"body": "y"}},
                {"op": "delete", "collection": "notes", "id": missing},
            ]}),
        )
        .await,
        404,
        "record_not_found",
    )
    .await;
    assert!(names_operation(&problem, 3), "{problem}");
    assert_eq!(totals(&app).await, before);
    get_ok(&app, &format!("/api/v1/notes/{kept_id}")).await;

    // A unique clash with a stored record, and between two operations of the batch.
    let problem = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "notes", "body": {"body": "x"}},
                {"op": "create", "collection": "categories", "body": {"name": "Lighting"}},
            ]}),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(fields(&problem), ["operations[1].name"], "{problem}");
    let problem = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "categories", "body": {"name": "Twin"}},
                {"op": "create", "collection": "notes", "body": {"body": "x"}},
                {"op": "create", "collection": "categories", "body": {"name": "Twin"}},
            ]}),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(fields(&problem), ["operations[2].name"], "{problem}");

    // A relation to a record that does not exist; deleting a record another one points at. Each
    // names the field and the case.
    let problem = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "notes", "body": {"body": "x"}},
                {"op": "create", "collection": "items", "body": {"title": "Lamp", "category": missing}},
            ]}),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        error_pairs(&problem),
        [("operations[1].category", "not_found")]
    );
    let category_id = category["id"].as_str().expect("id");
    let problem = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "items", "body": {"title": "Lamp", "category": category_id}},
                {"op": "delete", "collection": "categories", "id": category_id},
            ]}),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        error_pairs(&problem),
        [("operations[1].items.category", "still_referenced")]
    );
    assert_eq!(totals(&app).await, before, "no failed batch wrote anything");
    app.stop().await;
}

#[tokio::test]
async fn malformed_batches_are_refused_naming_the_part() {
    let app = spawn_app(TEST_SCHEMA).await;
    require_batch_endpoint(&app).await;
    let note = app.create("notes", &json!({"body": "x"})).await;
    let id = note["id"].as_str().expect("id");
    let create = json!({"op": "create", "collection": "notes", "body": {"body": "x"}});

    // Not an object at all.
    for body in [json!([create]), json!("operations"), json!(null)] {
        let response = batch(&app, &body).await;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let problem = json_with_status(response, 400).await;
        assert_eq!(content_type, "application/problem+json", "{problem}");
    }
    for (body, field) in [
        (json!({}), "operations"),
        (json!({"operations": null}), "operations"),
        (json!({"operations": {}}), "operations"),
        (json!({"operations": []}), "operations"),
        (json!({"operations": [create, "delete"]}), "operations[1]"),
        (
            json!({"operations": [create, {"op": "upsert", "collection": "notes", "body": {}}]}),
            "operations[1].op",
        ),
        (
            json!({"operations": [create, {"collection": "notes", "body": {}}]}),
            "operations[1].op",
        ),
        (
            json!({"operations": [{"op": "create", "collection": "ghosts", "body": {}}]}),
            "operations[0].collection",
        ),
        (
            json!({"operations": [{"op": "create", "body": {"body": "x"}}]}),
            "operations[0].collection",
        ),
        (
            json!({"operations": [{"op": "create", "collection": "notes"}]}),
            "operations[0].body",
        ),
        (
            json!({"operations": [{"op": "create", "collection": "notes", "body": [1]}]}),
            "operations[0].body",
        ),
        (
            json!({"operations": [create, {"op": "update", "collection": "notes", "body": {"body": "y"}}]}),
            "operations[1].id",
        ),
        (
            json!({"operations": [{"op": "delete", "collection": "notes", "id": "nope"}]}),
            "operations[0].id",
        ),
        (
            json!({"operations": [{"op": "delete", "collection": "notes"}]}),
            "operations[0].id",
        ),
    ] {
        assert_shape_error(batch(&app, &body).await, field).await;
    }
    // The 101st operation is one too many; 100 are fine.
    let hundred: Vec<Value> = (0..100)
        .map(|n| json!({"op": "create", "collection": "notes", "body": {"body": format!("n{n}")}}))
        .collect();
    let mut too_many = hundred.clone();
    too_many.push(json!({"op": "delete", "collection": "notes", "id": id}));
    let problem = assert_shape_error(
        batch(&app, &json!({"operations": too_many})).await,
        "operations",
    )
    .await;
    assert!(
        problem["detail"].as_str().expect("detail").contains("100"),
        "{problem}"
    );
    assert_eq!(total(&app, "notes").await, 1, "nothing was written");
    let body = json_with_status(batch(&app, &json!({"operations": hundred})).await, 200).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(100));
    assert_eq!(total(&app, "notes").await, 101);
    app.stop().await;
}
