//! Batches that build related records together: a create names itself with `"ref"` and later
//! operations use `"$ref:<name>"`, or creates bring their own `id`. Bad references are refused
//! before anything is written, and a reference stays inside its tenant.

use serde_json::json;

use super::batch::{assert_shape_error, batch, error_pairs, names_operation, totals};
use super::support::get_ok;
use crate::helpers::{TEST_SCHEMA, assert_problem, json_with_status, spawn_app};

#[tokio::test]
async fn a_batch_builds_related_records_together_by_ref_or_by_chosen_id() {
    let app = spawn_app(TEST_SCHEMA).await;
    let chosen = "0190c8e4-7b7e-7c3a-9f1e-0000000000c1";
    let body = json_with_status(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "categories", "ref": "lighting", "body": {"name": "Lighting"}},
                {"op": "create", "collection": "items", "body": {"title": "Lamp", "category": "$ref:lighting"}},
                {"op": "create", "collection": "categories", "body": {"id": chosen, "name": "Garden"}},
                {"op": "create", "collection": "items", "ref": "hose", "body": {"title": "Hose", "category": chosen}},
                {"op": "update", "collection": "items", "id": "$ref:hose", "body": {"qty": 9}},
                {"op": "update", "collection": "categories", "id": "$ref:lighting", "body": {"name": "Lights"}},
                // In a field that is not a relation, the text is just text.
                {"op": "create", "collection": "items", "body": {"title": "$ref:lighting"}},
            ]}),
        )
        .await,
        200,
    )
    .await;
    let results = body["data"].as_array().expect("data");
    let lighting = results[0]["id"].as_str().expect("id");
    assert_eq!(results[1]["record"]["category"], lighting);
    assert_eq!(results[2]["id"], chosen);
    assert_eq!(results[3]["record"]["category"], chosen);
    assert_eq!(results[4]["id"], results[3]["id"]);
    assert_eq!(results[4]["record"]["qty"], 9);
    assert_eq!(results[5]["id"], lighting);
    assert_eq!(results[5]["record"]["name"], "Lights");
    assert_eq!(results[6]["record"]["title"], "$ref:lighting");

    // What was answered is what was stored.
    let lamp = get_ok(
        &app,
        &format!("/api/v1/items/{}", results[1]["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(lamp["data"]["category"], lighting);
    let hose = get_ok(
        &app,
        &format!("/api/v1/items/{}", results[3]["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(hose["data"]["qty"], 9);
    assert_eq!(totals(&app).await, [2, 3, 0]);

    // All or nothing still: a failing last operation takes the related records with it.
    let refused = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "categories", "ref": "c", "body": {"name": "Tools"}},
                {"op": "create", "collection": "items", "body": {"title": "Saw", "category": "$ref:c"}},
                {"op": "create", "collection": "categories", "body": {"name": "Lights"}},
            ]}),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    assert!(names_operation(&refused, 2), "{refused}");
    // A chosen id that exists already is a conflict naming `id`.
    let taken = assert_problem(
        batch(
            &app,
            &json!({"operations": [
                {"op": "create", "collection": "categories", "body": {"id": chosen, "name": "Again"}},
            ]}),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(error_pairs(&taken), [("operations[0].id", "not_unique")]);
    assert_eq!(
        totals(&app).await,
        [2, 3, 0],
        "nothing of either batch was written"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_refs_are_refused_before_anything_is_written() {
    let app = spawn_app(TEST_SCHEMA).await;
    let category =
        json!({"op": "create", "collection": "categories", "ref": "cat", "body": {"name": "C"}});
    let note = json!({"op": "create", "collection": "notes", "ref": "note", "body": {"body": "n"}});
    let item = |category: &str| json!({"op": "create", "collection": "items", "body": {"title": "Lamp", "category": category}});
    for (operations, field, code) in [
        // A ref that no earlier operation names (a later one does not count).
        (
            json!([item("$ref:cat"), category]),
            "operations[0].category",
            "unknown_ref",
        ),
        (
            json!([category, item("$ref:dog")]),
            "operations[1].category",
            "unknown_ref",
        ),
        // A ref to a record of the wrong collection.
        (
            json!([note, item("$ref:note")]),
            "operations[1].category",
            "wrong_collection",
        ),
        (
            json!([note, {"op": "delete", "collection": "items", "id": "$ref:note"}]),
            "operations[1].id",
            "wrong_collection",
        ),
        (
            json!([{"op": "update", "collection": "items", "id": "$ref:nothing", "body": {}}]),
            "operations[0].id",
            "unknown_ref",
        ),
        // Names: unique, well-formed, and on creates only.
        (
            json!([category, category]),
            "operations[1].ref",
            "invalid_operation",
        ),
        (
            json!([{"op": "create", "collection": "notes", "ref": "no spaces", "body": {"body": "n"}}]),
            "operations[0].ref",
            "invalid_operation",
        ),
        (
            json!([{"op": "create", "collection": "notes", "ref": 1, "body": {"body": "n"}}]),
            "operations[0].ref",
            "invalid_operation",
        ),
        (
            json!([category, {"op": "delete", "collection": "categories", "ref": "x", "id": "$ref:cat"}]),
            "operations[1].ref",
            "invalid_operation",
        ),
    ] {
        let problem =
            assert_shape_error(batch(&app, &json!({"operations": operations})).await, field).await;
        assert_eq!(problem["code"], "validation_failed", "{problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    assert_eq!(totals(&app).await, [0, 0, 0]);
    app.stop().await;
}

#[tokio::test]
async fn a_ref_reaches_only_a_record_of_the_same_tenant() {
    const SCHEMA: &str = r#"
[collections.projects]
tenant_scoped = true
fields.name = { type = "text", required = true }

[collections.tasks]
tenant_scoped = true
fields.title   = { type = "text", required = true }
fields.project = { type = "relation", collection = "projects" }
"#;
    let app = spawn_app(SCHEMA).await;
    let operations = |task_tenant: &str| {
        json!({"operations": [
            {"op": "create", "collection": "projects", "ref": "p", "body": {"name": "Rocket", "tenant": "acme"}},
            {"op": "create", "collection": "tasks", "body": {"title": "Fuel", "project": "$ref:p", "tenant": task_tenant}},
        ]})
    };
    let problem = assert_problem(
        batch(&app, &operations("globex")).await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        error_pairs(&problem),
        [("operations[1].project", "not_found")]
    );
    let body = json_with_status(batch(&app, &operations("acme")).await, 200).await;
    assert_eq!(body["data"][1]["record"]["project"], body["data"][0]["id"]);
    assert_eq!(body["data"][1]["record"]["tenant"], "acme");

    // An update of a record created earlier in the batch is held to that record's tenant too,
    // whether the other tenant's project is created in the batch or stored already.
    let stored = json_with_status(
        app.post_json(
            "/api/v1/projects",
            &json!({"name": "Probe", "tenant": "globex"}),
        )
        .await,
        201,
    )
    .await;
    let stored = stored["data"]["id"].as_str().expect("id");
    for project in [json!("$ref:g"), json!(stored)] {
        let problem = assert_problem(
            batch(
                &app,
                &json!({"operations": [
                    {"op": "create", "collection": "projects", "ref": "g", "body": {"name": "Other", "tenant": "globex"}},
                    {"op": "create", "collection": "tasks", "ref": "t", "body": {"title": "Fuel", "tenant": "acme"}},
                    {"op": "update", "collection": "tasks", "id": "$ref:t", "body": {"project": project}},
                ]}),
            )
            .await,
            409,
            "relation_violation",
        )
        .await;
        assert_eq!(
            error_pairs(&problem),
            [("operations[2].project", "not_found")],
            "{project}"
        );
    }
    app.stop().await;
}
