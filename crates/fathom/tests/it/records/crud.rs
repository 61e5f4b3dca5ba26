//! The happy path of every records endpoint: create, get, patch, delete and list.

use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{assert_validation, id_of, is_canonical_timestamp};
use crate::helpers::{TEST_SCHEMA, assert_problem, json_with_status, spawn_app};

/// The keys of `items` records, system fields first, then the schema's fields in order.
const ITEM_KEYS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "version",
    "title",
    "code",
    "qty",
    "weight",
    "price",
    "active",
    "seen_at",
    "due",
    "ref",
    "meta",
    "status",
    "category",
    "contact",
    "link",
];

fn keys(record: &Value) -> Vec<&str> {
    record
        .as_object()
        .expect("record is an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn create_answers_201_with_location_version_one_and_defaults() {
    let app = spawn_app(TEST_SCHEMA).await;
    let response = app
        .post_json("/api/v1/items", &json!({"title": "Desk lamp"}))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii location")
        .to_owned();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii request id")
        .to_owned();
    let body = json_with_status(response, 201).await;
    let record = &body["data"];

    let id = id_of(record);
    let uuid = Uuid::parse_str(&id).expect("id is a UUID");
    assert_eq!(uuid.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(
        id,
        uuid.hyphenated().to_string(),
        "ids are lowercase hyphenated"
    );
    assert_eq!(location, format!("/api/v1/items/{id}"));
    assert_eq!(body["meta"]["requestId"], request_id.as_str());
    assert_eq!(keys(&body), ["data", "meta"]);

    assert_eq!(
        keys(record),
        ITEM_KEYS,
        "system fields first, then fields in schema order"
    );
    let created_at = record["created_at"].as_str().expect("created_at");
    assert!(
        is_canonical_timestamp(created_at),
        "created_at {created_at}"
    );
    assert_eq!(
        record["updated_at"], created_at,
        "a new record was last updated when created"
    );
    assert_eq!(record["version"], 1);
    assert_eq!(record["title"], "Desk lamp");
    assert_eq!(record["qty"], 1, "default qty");
    assert_eq!(record["active"], true, "default active");
    assert_eq!(record["status"], "new", "default status");
    for field in [
        "code", "weight", "price", "seen_at", "due", "ref", "meta", "category", "contact", "link",
    ] {
        assert_eq!(
            record[field],
            Value::Null,
            "{field} without a value or default is null"
        );
    }

    // The Location resolves, and GET answers exactly the record that create answered.
    let fetched = json_with_status(app.get(&location).await, 200).await;
    assert_eq!(fetched["data"], *record);
    app.stop().await;
}

#[tokio::test]
async fn get_answers_the_record_in_an_envelope() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app.create("notes", &json!({"body": "first"})).await;
    let response = app.get(&format!("/api/v1/notes/{}", id_of(&created))).await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json_with_status(response, 200).await;
    assert_eq!(
        body,
        json!({"data": created, "meta": {"requestId": request_id}})
    );
    assert_eq!(
        keys(&body["data"]),
        ["id", "created_at", "updated_at", "version", "body"]
    );
    app.stop().await;
}

#[tokio::test]
async fn patch_changes_only_the_supplied_fields_and_bumps_the_version() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app
        .create(
            "items",
            &json!({"title": "Desk lamp", "code": "LMP-1", "qty": 3, "contact": "ada@example.com"}),
        )
        .await;
    let path = format!("/api/v1/items/{}", id_of(&created));
    let patched = json_with_status(
        app.patch_json(&path, &json!({"qty": 5, "status": "done"}))
            .await,
        200,
    )
    .await;
    let patched = &patched["data"];

    assert_eq!(patched["version"], 2);
    assert_eq!(patched["created_at"], created["created_at"]);
    let updated_at = patched["updated_at"].as_str().expect("updated_at");
    assert!(is_canonical_timestamp(updated_at));
    assert!(
        updated_at >= created["created_at"].as_str().expect("created_at"),
        "updated_at {updated_at} precedes created_at"
    );

    let mut expected = created.clone();
    expected["qty"] = json!(5);
    expected["status"] = json!("done");
    expected["version"] = json!(2);
    expected["updated_at"] = json!(updated_at);
    assert_eq!(*patched, expected, "fields not in the patch are unchanged");
    assert_eq!(keys(patched), ITEM_KEYS);

    let fetched = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(fetched["data"], expected, "the patch is stored");

    let again = json_with_status(
        app.patch_json(&path, &json!({"title": "Floor lamp"})).await,
        200,
    )
    .await;
    assert_eq!(
        again["data"]["version"], 3,
        "every change adds one to the version"
    );
    assert_eq!(again["data"]["title"], "Floor lamp");
    app.stop().await;
}

#[tokio::test]
async fn patch_with_an_empty_object_returns_the_record_unchanged() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app.create("items", &json!({"title": "Desk lamp"})).await;
    let path = format!("/api/v1/items/{}", id_of(&created));
    let patched = json_with_status(app.patch_json(&path, &json!({})).await, 200).await;
    assert_eq!(
        patched["data"], created,
        "no version bump, no new updated_at"
    );
    let fetched = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(fetched["data"], created);
    app.stop().await;
}

#[tokio::test]
async fn patch_null_clears_an_optional_field_but_not_a_required_one() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app
        .create(
            "items",
            &json!({"title": "Desk lamp", "code": "LMP-1", "contact": "ada@example.com", "meta": {"a": 1}, "qty": 4}),
        )
        .await;
    let path = format!("/api/v1/items/{}", id_of(&created));
    let cleared = json_with_status(
        app.patch_json(&path, &json!({"code": null, "meta": null, "qty": null}))
            .await,
        200,
    )
    .await;
    let cleared = &cleared["data"];
    assert_eq!(cleared["code"], Value::Null);
    assert_eq!(cleared["meta"], Value::Null);
    assert_eq!(
        cleared["qty"],
        Value::Null,
        "null clears a field even when it has a default"
    );
    assert_eq!(cleared["contact"], "ada@example.com");
    assert_eq!(cleared["version"], 2);
    assert_eq!(
        json_with_status(app.get(&path).await, 200).await["data"],
        *cleared
    );

    assert_validation(
        app.patch_json(&path, &json!({"title": null})).await,
        &[("title", "required")],
    )
    .await;
    let after = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(after["data"], *cleared, "a refused patch changes nothing");
    app.stop().await;
}

#[tokio::test]
async fn delete_answers_204_and_the_record_is_gone() {
    let app = spawn_app(TEST_SCHEMA).await;
    for collection in ["items", "notes"] {
        let body = if collection == "items" {
            json!({"title": "Desk lamp"})
        } else {
            json!({"body": "x"})
        };
        let keep = app.create(collection, &body).await;
        let gone = app.create(collection, &body).await;
        let path = format!("/api/v1/{collection}/{}", id_of(&gone));

        let response = app.delete(&path).await;
        assert_eq!(response.status(), 204, "{collection}");
        assert!(
            response.headers().get("content-type").is_none(),
            "a 204 has no content type"
        );
        assert!(
            response.bytes().await.expect("body").is_empty(),
            "a 204 has no body"
        );

        assert_problem(app.get(&path).await, 404, "record_not_found").await;
        assert_problem(
            app.patch_json(&path, &json!({})).await,
            404,
            "record_not_found",
        )
        .await;
        assert_problem(app.delete(&path).await, 404, "record_not_found").await;

        let list = json_with_status(
            app.get(&format!("/api/v1/{collection}?count=true")).await,
            200,
        )
        .await;
        assert_eq!(
            list["data"],
            json!([keep]),
            "{collection}: the deleted record is not listed"
        );
        assert_eq!(
            list["meta"]["page"]["total"], 1,
            "{collection}: the deleted record is not counted"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn list_pages_in_creation_order_with_limit_offset_and_count() {
    let app = spawn_app(TEST_SCHEMA).await;
    let mut ids = Vec::new();
    for n in 0..25 {
        ids.push(id_of(
            &app.create("notes", &json!({"body": format!("note {n}")}))
                .await,
        ));
    }

    let first = json_with_status(app.get("/api/v1/notes").await, 200).await;
    assert_eq!(
        page_shape(&first["meta"]["page"]),
        json!({"limit": 20, "offset": 0, "next": true}),
        "default page, no total"
    );
    let listed: Vec<String> = first["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(listed, ids[..20], "ordered by id, which is creation order");
    assert_eq!(first["data"][3]["body"], "note 3");

    let page = json_with_status(
        app.get("/api/v1/notes?limit=2&offset=1&count=true").await,
        200,
    )
    .await;
    assert_eq!(
        page_shape(&page["meta"]["page"]),
        json!({"limit": 2, "offset": 1, "next": true, "total": 25})
    );
    let listed: Vec<String> = page["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(listed, ids[1..3]);

    let tail = json_with_status(
        app.get("/api/v1/notes?limit=100&offset=20&count=1").await,
        200,
    )
    .await;
    assert_eq!(
        page_shape(&tail["meta"]["page"]),
        json!({"limit": 100, "offset": 20, "next": false, "total": 25})
    );
    let listed: Vec<String> = tail["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(listed, ids[20..]);

    let past = json_with_status(app.get("/api/v1/notes?offset=1000&count=true").await, 200).await;
    assert_eq!(past["data"], json!([]));
    assert_eq!(
        page_shape(&past["meta"]["page"]),
        json!({"limit": 20, "offset": 1000, "next": false, "total": 25})
    );

    let no_count = json_with_status(app.get("/api/v1/notes?count=false&limit=1").await, 200).await;
    assert_eq!(
        page_shape(&no_count["meta"]["page"]),
        json!({"limit": 1, "offset": 0, "next": true})
    );

    let empty = json_with_status(app.get("/api/v1/categories?count=true").await, 200).await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["meta"]["page"]["total"], 0);
    app.stop().await;
}

#[tokio::test]
async fn listed_records_are_the_same_as_fetched_ones() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app
        .create("items", &json!({"title": "Desk lamp", "price": "12.50", "seen_at": "2026-01-31T10:30:00+01:00"}))
        .await;
    let list = json_with_status(app.get("/api/v1/items").await, 200).await;
    assert_eq!(list["data"], json!([created]));
    app.stop().await;
}

/// `meta.page` with the opaque `next` cursor reduced to whether there is one.
fn page_shape(page: &Value) -> Value {
    let mut page = page.clone();
    page["next"] = Value::Bool(page["next"].is_string());
    page
}
