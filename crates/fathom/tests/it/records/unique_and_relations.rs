//! Unique fields (and soft delete freeing their values) and relations between collections.

use serde_json::{Value, json};

use super::support::{field_errors, id_of, pairs};
use crate::helpers::{TEST_SCHEMA, TestApp, assert_problem, json_with_status, spawn_app};

const MISSING_ID: &str = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12";

async fn total(app: &TestApp, collection: &str) -> Value {
    let list = json_with_status(
        app.get(&format!("/api/v1/{collection}?count=true&limit=1"))
            .await,
        200,
    )
    .await;
    list["meta"]["page"]["total"].clone()
}

#[tokio::test]
async fn a_unique_clash_with_a_live_record_is_unique_violation_naming_the_field() {
    let app = spawn_app(TEST_SCHEMA).await;
    let first = app
        .create("items", &json!({"title": "First", "code": "ABC-1"}))
        .await;
    let problem = assert_problem(
        app.post_json(
            "/api/v1/items",
            &json!({"title": "Second", "code": "ABC-1"}),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(field_errors(&problem), pairs(&[("code", "not_unique")]));
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`code`")),
        "{problem}"
    );
    assert!(
        !problem.to_string().contains("UNIQUE constraint"),
        "no database text leaks: {problem}"
    );

    // A patch onto a taken value clashes too, and changes nothing.
    let second = app
        .create("items", &json!({"title": "Second", "code": "ABC-2"}))
        .await;
    let second_path = format!("/api/v1/items/{}", id_of(&second));
    let problem = assert_problem(
        app.patch_json(&second_path, &json!({"code": "ABC-1"}))
            .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(field_errors(&problem), pairs(&[("code", "not_unique")]));
    assert_eq!(
        json_with_status(app.get(&second_path).await, 200).await["data"],
        second
    );

    // Patching a record to its own value is no clash.
    let first_path = format!("/api/v1/items/{}", id_of(&first));
    let same = json_with_status(
        app.patch_json(&first_path, &json!({"code": "ABC-1"})).await,
        200,
    )
    .await;
    assert_eq!(same["data"]["code"], "ABC-1");

    // Several records may leave a unique field empty.
    app.create("items", &json!({"title": "No code"})).await;
    app.create("items", &json!({"title": "No code"})).await;
    assert_eq!(total(&app, "items").await, 4);

    let cat = app.create("categories", &json!({"name": "Lighting"})).await;
    let problem = assert_problem(
        app.post_json("/api/v1/categories", &json!({"name": "Lighting"}))
            .await,
        409,
        "unique_violation",
    )
    .await;
    assert_eq!(field_errors(&problem), pairs(&[("name", "not_unique")]));
    // Unique values are compared exactly.
    app.create("categories", &json!({"name": "lighting"})).await;
    assert_eq!(total(&app, "categories").await, 2);
    // A hard delete frees the value too.
    assert_eq!(
        app.delete(&format!("/api/v1/categories/{}", id_of(&cat)))
            .await
            .status(),
        204
    );
    app.create("categories", &json!({"name": "Lighting"})).await;
    app.stop().await;
}

#[tokio::test]
async fn soft_delete_frees_a_unique_value_for_a_new_record() {
    let app = spawn_app(TEST_SCHEMA).await;
    let old = app
        .create("items", &json!({"title": "Old", "code": "ABC-1"}))
        .await;
    let old_path = format!("/api/v1/items/{}", id_of(&old));
    assert_eq!(app.delete(&old_path).await.status(), 204);

    let new = app
        .create("items", &json!({"title": "New", "code": "ABC-1"}))
        .await;
    assert_ne!(id_of(&new), id_of(&old));
    assert_eq!(new["code"], "ABC-1");
    assert_problem(app.get(&old_path).await, 404, "record_not_found").await;
    let list = json_with_status(app.get("/api/v1/items?count=true").await, 200).await;
    assert_eq!(list["data"], json!([new]));
    assert_eq!(list["meta"]["page"]["total"], 1);

    // The value is held again by the live record.
    assert_problem(
        app.post_json("/api/v1/items", &json!({"title": "Third", "code": "ABC-1"}))
            .await,
        409,
        "unique_violation",
    )
    .await;
    // And freed again when that one is deleted.
    assert_eq!(
        app.delete(&format!("/api/v1/items/{}", id_of(&new)))
            .await
            .status(),
        204
    );
    app.create("items", &json!({"title": "Third", "code": "ABC-1"}))
        .await;
    assert_eq!(total(&app, "items").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_relation_must_point_at_an_existing_record() {
    let app = spawn_app(TEST_SCHEMA).await;
    let problem = assert_problem(
        app.post_json(
            "/api/v1/items",
            &json!({"title": "Lamp", "category": MISSING_ID}),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert!(
        !problem.to_string().contains("FOREIGN KEY"),
        "no database text leaks: {problem}"
    );
    assert_eq!(total(&app, "items").await, 0, "nothing was created");

    // An id of a record in another collection is not a category.
    let note = app.create("notes", &json!({"body": "x"})).await;
    assert_problem(
        app.post_json(
            "/api/v1/items",
            &json!({"title": "Lamp", "category": id_of(&note)}),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;

    let category = app.create("categories", &json!({"name": "Lighting"})).await;
    let item = app
        .create(
            "items",
            &json!({"title": "Lamp", "category": id_of(&category)}),
        )
        .await;
    let item_path = format!("/api/v1/items/{}", id_of(&item));
    assert_problem(
        app.patch_json(&item_path, &json!({"category": MISSING_ID}))
            .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        json_with_status(app.get(&item_path).await, 200).await["data"],
        item,
        "the refused patch changed nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_referenced_record_is_restricted() {
    let app = spawn_app(TEST_SCHEMA).await;
    let category = app.create("categories", &json!({"name": "Lighting"})).await;
    let category_path = format!("/api/v1/categories/{}", id_of(&category));
    let item = app
        .create(
            "items",
            &json!({"title": "Lamp", "category": id_of(&category)}),
        )
        .await;

    // Unlinking and deleting a category works (checked first, so that it is known to work
    // whatever happens to the restricted delete below).
    let spare = app.create("categories", &json!({"name": "Spare"})).await;
    let spare_path = format!("/api/v1/categories/{}", id_of(&spare));
    let item_path = format!("/api/v1/items/{}", id_of(&item));
    let relinked = json_with_status(
        app.patch_json(&item_path, &json!({"category": id_of(&spare)}))
            .await,
        200,
    )
    .await;
    assert_eq!(relinked["data"]["category"], id_of(&spare));
    assert_eq!(
        app.delete(&category_path).await.status(),
        204,
        "nothing points at it any more"
    );
    assert_problem(app.get(&category_path).await, 404, "record_not_found").await;

    // The item now points at `spare`: deleting that is restricted, and changes nothing.
    let problem = assert_problem(app.delete(&spare_path).await, 409, "relation_violation").await;
    assert!(
        !problem.to_string().contains("FOREIGN KEY"),
        "no database text leaks: {problem}"
    );
    assert_eq!(
        json_with_status(app.get(&spare_path).await, 200).await["data"],
        spare,
        "the referenced category stays"
    );
    assert_eq!(
        json_with_status(app.get(&item_path).await, 200).await["data"],
        relinked["data"]
    );
    app.stop().await;
}

/// Two collections that both point at customers, so that a refused delete must say which one
/// holds it.
const REFERRERS_SCHEMA: &str = r#"
[collections.customers]
fields.name = { type = "text", required = true }

[collections.orders]
fields.customer = { type = "relation", collection = "customers" }
fields.helper   = { type = "relation", collection = "customers", on_delete = "set_null" }

[collections.invoices]
fields.customer = { type = "relation", collection = "customers", required = true }
fields.order    = { type = "relation", collection = "orders" }
"#;

#[tokio::test]
async fn a_relation_violation_names_the_field_and_the_case() {
    let app = spawn_app(REFERRERS_SCHEMA).await;
    let ann = app.create("customers", &json!({"name": "Ann"})).await;
    let order = app
        .create("orders", &json!({"customer": id_of(&ann)}))
        .await;

    // Unknown targets: the fields that point nowhere, `not_found`, and not the one that is fine.
    let problem = assert_problem(
        app.post_json(
            "/api/v1/invoices",
            &json!({"customer": id_of(&ann), "order": MISSING_ID}),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(field_errors(&problem), pairs(&[("order", "not_found")]));
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`order`") && d.contains("`orders`")),
        "{problem}"
    );
    let problem = assert_problem(
        app.patch_json(
            &format!("/api/v1/orders/{}", id_of(&order)),
            &json!({"customer": MISSING_ID}),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(field_errors(&problem), pairs(&[("customer", "not_found")]));

    // Still referenced: the referring collection and field, `still_referenced`. Ann is held by
    // an order; Bob only by an invoice (and by an order's `helper`, which would be cleared).
    let problem = assert_problem(
        app.delete(&format!("/api/v1/customers/{}", id_of(&ann)))
            .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        pairs(&[("orders.customer", "still_referenced")])
    );
    let bob = app.create("customers", &json!({"name": "Bob"})).await;
    app.create("invoices", &json!({"customer": id_of(&bob)}))
        .await;
    app.create("orders", &json!({"helper": id_of(&bob)})).await;
    let problem = assert_problem(
        app.delete(&format!("/api/v1/customers/{}", id_of(&bob)))
            .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        pairs(&[("invoices.customer", "still_referenced")])
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`invoices.customer`")),
        "{problem}"
    );
    assert!(
        !problem.to_string().contains("FOREIGN KEY") && !problem.to_string().contains("violates"),
        "no database text leaks: {problem}"
    );
    app.stop().await;
}
