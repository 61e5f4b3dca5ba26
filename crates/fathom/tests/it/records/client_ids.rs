//! Client-chosen ids: a create may name its record's `id` (a UUID); a taken id is 409, a
//! malformed one 400, and an update still cannot change an id.

use serde_json::json;

use super::support::{assert_validation, field_errors, id_of, pairs};
use crate::helpers::{TEST_SCHEMA, assert_problem, json_with_status, spawn_app};

const CHOSEN: &str = "0190C8E4-7B7E-7C3A-9F1E-2B4D6A8C0E12";
const CHOSEN_LOWER: &str = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12";

#[tokio::test]
async fn a_create_may_choose_its_id_and_a_taken_id_is_409() {
    let app = spawn_app(TEST_SCHEMA).await;
    let response = app
        .post_json("/api/v1/notes", &json!({"id": CHOSEN, "body": "mine"}))
        .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let created = json_with_status(response, 201).await["data"].clone();
    assert_eq!(created["id"], CHOSEN_LOWER, "stored in the canonical form");
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/notes/{CHOSEN_LOWER}").as_str())
    );
    let fetched = json_with_status(app.get(&format!("/api/v1/notes/{CHOSEN}")).await, 200).await;
    assert_eq!(fetched["data"], created);

    // The same id again (a retried create, say) is a conflict naming `id`, and writes nothing.
    let problem = assert_problem(
        app.post_json(
            "/api/v1/notes",
            &json!({"id": CHOSEN_LOWER, "body": "again"}),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(field_errors(&problem), pairs(&[("id", "not_unique")]));
    let fetched = json_with_status(app.get(&format!("/api/v1/notes/{CHOSEN}")).await, 200).await;
    assert_eq!(fetched["data"]["body"], "mine");

    // A soft-deleted record keeps its id: it cannot be taken again either.
    let item_id = "0190c8e4-0000-7000-8000-000000000001";
    app.create("items", &json!({"id": item_id, "title": "Lamp"}))
        .await;
    assert_eq!(
        app.delete(&format!("/api/v1/items/{item_id}"))
            .await
            .status(),
        204
    );
    assert_problem(
        app.post_json("/api/v1/items", &json!({"id": item_id, "title": "Lamp"}))
            .await,
        409,
        "unique_violation",
    )
    .await;

    // `null` asks for an assigned id, as leaving it out does.
    let assigned = app
        .create("notes", &json!({"id": null, "body": "assigned"}))
        .await;
    assert_ne!(id_of(&assigned), CHOSEN_LOWER);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_id_is_400_with_the_other_problems_and_an_update_cannot_set_it() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (id, code) in [
        (json!("not-a-uuid"), "invalid_format"),
        (json!(""), "invalid_format"),
        (json!(42), "invalid_type"),
        (json!({"$ref": "x"}), "invalid_type"),
    ] {
        assert_validation(
            app.post_json("/api/v1/notes", &json!({"id": id, "body": "x"}))
                .await,
            &[("id", code)],
        )
        .await;
    }
    // Every problem at once: the id's and the other fields'.
    assert_validation(
        app.post_json("/api/v1/notes", &json!({"id": "nope"})).await,
        &[("id", "invalid_format"), ("body", "required")],
    )
    .await;
    let total = json_with_status(app.get("/api/v1/notes?count=true").await, 200).await;
    assert_eq!(total["meta"]["page"]["total"], 0, "nothing was created");

    // An id is chosen once, at creation: a patch naming `id` is still refused.
    let note = app.create("notes", &json!({"body": "x"})).await;
    assert_validation(
        app.patch_json(
            &format!("/api/v1/notes/{}", id_of(&note)),
            &json!({"id": CHOSEN}),
        )
        .await,
        &[("id", "read_only")],
    )
    .await;
    // The other system fields stay read-only on create.
    assert_validation(
        app.post_json("/api/v1/notes", &json!({"body": "x", "version": 7}))
            .await,
        &[("version", "read_only")],
    )
    .await;
    app.stop().await;
}
