//! Every field type round-trips: what create answers is what GET and list answer, in canonical form.

use serde_json::{Value, json};

use super::support::id_of;
use crate::helpers::{TEST_SCHEMA, TestApp, json_with_status, spawn_app};

/// Creates an item with `extra` fields, checks that GET answers the same record, and returns it.
async fn round_trip(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({"title": "Round trip"});
    body.as_object_mut()
        .expect("object")
        .extend(extra.as_object().expect("object").clone());
    let created = app.create("items", &body).await;
    let fetched = json_with_status(
        app.get(&format!("/api/v1/items/{}", id_of(&created))).await,
        200,
    )
    .await;
    assert_eq!(fetched["data"], created, "GET answers what create answered");
    created
}

#[tokio::test]
async fn every_field_type_round_trips_in_canonical_form() {
    let app = spawn_app(TEST_SCHEMA).await;
    let category = app.create("categories", &json!({"name": "Lighting"})).await;
    let category_id = id_of(&category);
    let record = round_trip(
        &app,
        json!({
            "code": "LMP-42",
            "qty": 7,
            "weight": 2.75,
            "price": "12.50",
            "active": false,
            "seen_at": "2026-01-31T10:30:00+01:00",
            "due": "2026-02-28",
            "ref": "0190C8E4-7B7E-7C3A-9F1E-2B4D6A8C0E12",
            "meta": {"finish": "brass", "sizes": [1, 2.5, "xl"], "nested": {"deep": {"ok": true}}, "none": null},
            "status": "done",
            "category": category_id.to_uppercase(),
            "contact": "ada@example.com",
            "link": "https://example.com/lamps?id=42",
        }),
    )
    .await;
    let expected = json!({
        "title": "Round trip",
        "code": "LMP-42",
        "qty": 7,
        "weight": 2.75,
        "price": "12.50",
        "active": false,
        "seen_at": "2026-01-31T09:30:00.000Z",
        "due": "2026-02-28",
        "ref": "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12",
        "meta": {"finish": "brass", "sizes": [1, 2.5, "xl"], "nested": {"deep": {"ok": true}}, "none": null},
        "status": "done",
        "category": category_id,
        "contact": "ada@example.com",
        "link": "https://example.com/lamps?id=42",
    });
    for (field, value) in expected.as_object().expect("object") {
        assert_eq!(record[field], *value, "field {field}");
    }
    // The normalized relation id resolves.
    let related = json_with_status(
        app.get(&format!(
            "/api/v1/categories/{}",
            record["category"].as_str().expect("id")
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(related["data"], category);
    app.stop().await;
}

#[tokio::test]
async fn decimals_come_back_as_strings_keeping_their_scale() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (input, expected) in [
        (json!(12.5), "12.5"),
        (json!("12.50"), "12.50"),
        (json!("12.5"), "12.5"),
        (json!(0), "0"),
        (json!("0.00"), "0.00"),
        (json!(7), "7"),
        (json!("1234567890.123456789"), "1234567890.123456789"),
        (json!("0.10"), "0.10"),
    ] {
        let record = round_trip(&app, json!({"price": input})).await;
        assert_eq!(record["price"], expected, "price from {input}");
    }
    app.stop().await;
}

#[tokio::test]
async fn timestamps_are_normalized_to_utc_with_milliseconds() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (input, expected) in [
        ("2026-01-31T10:30:00+01:00", "2026-01-31T09:30:00.000Z"),
        ("2026-01-31T09:30:00Z", "2026-01-31T09:30:00.000Z"),
        ("2026-01-31T09:30:00.5Z", "2026-01-31T09:30:00.500Z"),
        ("2026-01-31T09:30:00.123456Z", "2026-01-31T09:30:00.123Z"),
        ("2026-01-01T00:30:00+02:00", "2025-12-31T22:30:00.000Z"),
        ("2026-01-31T20:00:00-05:30", "2026-02-01T01:30:00.000Z"),
    ] {
        let record = round_trip(&app, json!({"seen_at": input})).await;
        assert_eq!(record["seen_at"], expected, "seen_at from {input}");
    }
    app.stop().await;
}

#[tokio::test]
async fn uuids_are_lowercased_and_hyphenated() {
    let app = spawn_app(TEST_SCHEMA).await;
    for input in [
        "0190C8E4-7B7E-7C3A-9F1E-2B4D6A8C0E12",
        "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12",
        "0190c8e47b7e7c3a9f1e2b4d6a8c0e12",
    ] {
        let record = round_trip(&app, json!({"ref": input})).await;
        assert_eq!(
            record["ref"], "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12",
            "ref from {input}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn numbers_integers_booleans_and_json_keep_their_json_types() {
    let app = spawn_app(TEST_SCHEMA).await;
    let record = round_trip(
        &app,
        json!({"qty": 0, "weight": 3, "active": true, "meta": [1, "two", {"three": 3}]}),
    )
    .await;
    assert_eq!(record["qty"], json!(0));
    assert!(record["qty"].is_i64(), "integer stays an integer");
    assert_eq!(record["weight"].as_f64(), Some(3.0));
    assert_eq!(record["active"], json!(true));
    assert_eq!(record["meta"], json!([1, "two", {"three": 3}]));

    for meta in [
        json!("just a string"),
        json!(42),
        json!(false),
        json!([]),
        json!({}),
    ] {
        let record = round_trip(&app, json!({"meta": meta})).await;
        assert_eq!(record["meta"], meta, "a json field holds any JSON value");
    }
    let big = round_trip(&app, json!({"qty": 1000, "weight": 1e300})).await;
    assert_eq!(big["qty"], 1000);
    assert_eq!(big["weight"].as_f64(), Some(1e300));
    app.stop().await;
}

#[tokio::test]
async fn text_keeps_unicode_and_special_characters() {
    let app = spawn_app(TEST_SCHEMA).await;
    for title in [
        "Łódź ☕ 日本",
        "quote \" and \\ back",
        "x'); DROP TABLE--",
        "line\nbreak",
        "  padded  ",
    ] {
        let record = round_trip(&app, json!({"title": title})).await;
        assert_eq!(record["title"], title);
    }
    let note = app
        .create("notes", &json!({"body": "x".repeat(100_000)}))
        .await;
    let fetched = json_with_status(
        app.get(&format!("/api/v1/notes/{}", id_of(&note))).await,
        200,
    )
    .await;
    assert_eq!(
        fetched["data"]["body"].as_str().map(str::len),
        Some(100_000)
    );
    app.stop().await;
}

#[tokio::test]
async fn patch_normalizes_values_like_create() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app.create("items", &json!({"title": "Desk lamp"})).await;
    let path = format!("/api/v1/items/{}", id_of(&created));
    let body = json!({
        "price": "9.90",
        "seen_at": "2026-06-01T12:00:00+02:00",
        "ref": "0190C8E4-7B7E-7C3A-9F1E-2B4D6A8C0E12",
        "due": "2026-06-30",
    });
    let patched = json_with_status(app.patch_json(&path, &body).await, 200).await;
    let patched = &patched["data"];
    assert_eq!(patched["price"], "9.90");
    assert_eq!(patched["seen_at"], "2026-06-01T10:00:00.000Z");
    assert_eq!(patched["ref"], "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12");
    assert_eq!(patched["due"], "2026-06-30");
    assert_eq!(
        json_with_status(app.get(&path).await, 200).await["data"],
        *patched
    );
    app.stop().await;
}
