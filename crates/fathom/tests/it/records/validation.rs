//! Body validation against the schema: wrong types, bad formats, constraint boundaries, unknown and
//! read-only fields, required fields, and every problem reported at once.

use serde_json::{Value, json};

use super::support::{assert_validation, id_of};
use crate::helpers::{TEST_SCHEMA, TestApp, assert_problem, json_with_status, spawn_app};
use crate::query::support::encode;

/// A valid item body with `field` set to `value`.
fn item_with(field: &str, value: Value) -> Value {
    let mut body = json!({"title": "Desk lamp"});
    body[field] = value;
    body
}

async fn count_items(app: &TestApp) -> u64 {
    let list = json_with_status(app.get("/api/v1/items?count=true&limit=1").await, 200).await;
    list["meta"]["page"]["total"].as_u64().expect("total")
}

#[tokio::test]
async fn wrong_types_and_formats_are_refused_per_field() {
    let app = spawn_app(TEST_SCHEMA).await;
    let cases: &[(&str, Value, &str)] = &[
        ("title", json!(5), "invalid_type"),
        ("title", json!(["Desk lamp"]), "invalid_type"),
        ("code", json!(7), "invalid_type"),
        ("qty", json!("3"), "invalid_type"),
        ("qty", json!(1.5), "invalid_type"),
        ("qty", json!(true), "invalid_type"),
        ("weight", json!("1.5"), "invalid_type"),
        ("weight", json!(true), "invalid_type"),
        ("price", json!("abc"), "invalid_format"),
        ("price", json!("12,50"), "invalid_format"),
        ("price", json!(""), "invalid_format"),
        ("price", json!(true), "invalid_type"),
        ("price", json!({"amount": 1}), "invalid_type"),
        ("active", json!("yes"), "invalid_type"),
        ("active", json!(1), "invalid_type"),
        ("active", json!("true"), "invalid_type"),
        ("seen_at", json!("2026-01-31"), "invalid_format"),
        ("seen_at", json!("2026-01-31T10:30:00"), "invalid_format"),
        ("seen_at", json!("yesterday"), "invalid_format"),
        ("seen_at", json!("2026-02-30T10:30:00Z"), "invalid_format"),
        ("seen_at", json!(1_769_850_000), "invalid_type"),
        ("due", json!("2026-13-01"), "invalid_format"),
        ("due", json!("2026-02-30"), "invalid_format"),
        ("due", json!("2026-1-5"), "invalid_format"),
        ("due", json!("2026-01-31T00:00:00Z"), "invalid_format"),
        ("due", json!(20_260_131), "invalid_type"),
        ("ref", json!("nope"), "invalid_format"),
        (
            "ref",
            json!("0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e1"),
            "invalid_format",
        ),
        ("ref", json!(42), "invalid_type"),
        ("status", json!("bogus"), "invalid_enum"),
        ("status", json!("NEW"), "invalid_enum"),
        ("status", json!(1), "invalid_type"),
        ("category", json!("nope"), "invalid_format"),
        ("category", json!(3), "invalid_type"),
        ("contact", json!("no-at-sign"), "invalid_format"),
        ("contact", json!("ada@localhost"), "invalid_format"),
        (
            "contact",
            json!("ada lovelace@example.com"),
            "invalid_format",
        ),
        ("contact", json!("@example.com"), "invalid_format"),
        ("contact", json!(false), "invalid_type"),
        ("link", json!("ftp://x"), "invalid_format"),
        ("link", json!("example.com"), "invalid_format"),
        ("link", json!("javascript:alert(1)"), "invalid_format"),
        ("link", json!("not a url"), "invalid_format"),
        ("link", json!(80), "invalid_type"),
    ];
    for (field, value, code) in cases {
        let response = app
            .post_json("/api/v1/items", &item_with(field, value.clone()))
            .await;
        let problem = assert_validation(response, &[(*field, *code)]).await;
        assert_eq!(
            problem["detail"], "The body has 1 invalid field.",
            "{field} = {value}"
        );
    }
    assert_eq!(count_items(&app).await, 0, "no refused body was stored");
    app.stop().await;
}

#[tokio::test]
async fn constraints_are_checked_at_their_boundaries() {
    let app = spawn_app(TEST_SCHEMA).await;
    let refused: &[(&str, Value, &str)] = &[
        ("qty", json!(1001), "too_large"),
        ("qty", json!(-1), "too_small"),
        ("weight", json!(0.49), "too_small"),
        ("weight", json!(-3), "too_small"),
        ("price", json!("-0.01"), "too_small"),
        ("price", json!(-1), "too_small"),
        ("title", json!("A"), "too_short"),
        ("title", json!(""), "too_short"),
        ("title", json!("x".repeat(21)), "too_long"),
        ("title", json!("é".repeat(21)), "too_long"),
        ("code", json!("abc-1"), "pattern_mismatch"),
        ("code", json!("ABC-"), "pattern_mismatch"),
        ("code", json!("ABCD-1"), "pattern_mismatch"),
        ("code", json!("XABC-1"), "pattern_mismatch"),
        ("code", json!("ABC-1x"), "pattern_mismatch"),
        ("code", json!("ABC-1\n"), "pattern_mismatch"),
        ("code", json!(""), "pattern_mismatch"),
    ];
    for (field, value, code) in refused {
        let response = app
            .post_json("/api/v1/items", &item_with(field, value.clone()))
            .await;
        assert_validation(response, &[(*field, *code)]).await;
    }
    assert_eq!(count_items(&app).await, 0);

    let accepted: &[(&str, Value)] = &[
        ("qty", json!(1000)),
        ("qty", json!(0)),
        ("weight", json!(0.5)),
        ("price", json!("0")),
        ("price", json!("0.00")),
        ("title", json!("Ab")),
        ("title", json!("x".repeat(20))),
        ("title", json!("é".repeat(20))),
        ("code", json!("ABC-1")),
        ("code", json!("XYZ-0123456789")),
    ];
    for (field, value) in accepted {
        let created = app.create("items", &item_with(field, value.clone())).await;
        assert_eq!(
            created[field], *value,
            "{field} = {value} is accepted as is"
        );
        // Free the unique code for the next case.
        assert_eq!(
            app.delete(&format!("/api/v1/items/{}", id_of(&created)))
                .await
                .status(),
            204
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn patch_checks_constraints_too_and_changes_nothing_when_refused() {
    let app = spawn_app(TEST_SCHEMA).await;
    let created = app
        .create("items", &json!({"title": "Desk lamp", "qty": 3}))
        .await;
    let path = format!("/api/v1/items/{}", id_of(&created));
    for (body, expected) in [
        (json!({"qty": 1001}), vec![("qty", "too_large")]),
        (json!({"title": "A"}), vec![("title", "too_short")]),
        (json!({"code": "nope"}), vec![("code", "pattern_mismatch")]),
        (
            json!({"qty": "3", "status": "bogus"}),
            vec![("qty", "invalid_type"), ("status", "invalid_enum")],
        ),
        (
            json!({"qty": 5, "colour": "red"}),
            vec![("colour", "unknown_field")],
        ),
        (
            json!({"qty": 5, "version": 9}),
            vec![("version", "read_only")],
        ),
    ] {
        assert_validation(app.patch_json(&path, &body).await, &expected).await;
    }
    let fetched = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(
        fetched["data"], created,
        "refused patches change nothing, not even the version"
    );
    app.stop().await;
}

#[tokio::test]
async fn required_fields_must_be_present_and_not_null() {
    let app = spawn_app(TEST_SCHEMA).await;
    assert_validation(
        app.post_json("/api/v1/items", &json!({})).await,
        &[("title", "required")],
    )
    .await;
    assert_validation(
        app.post_json("/api/v1/items", &json!({"title": null}))
            .await,
        &[("title", "required")],
    )
    .await;
    assert_validation(
        app.post_json("/api/v1/notes", &json!({"body": null})).await,
        &[("body", "required")],
    )
    .await;
    assert_validation(
        app.post_json("/api/v1/categories", &json!({"nom": "x"}))
            .await,
        &[("nom", "unknown_field"), ("name", "required")],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_system_fields_are_refused_not_ignored() {
    let app = spawn_app(TEST_SCHEMA).await;
    assert_validation(
        app.post_json("/api/v1/items", &item_with("colour", json!("red")))
            .await,
        &[("colour", "unknown_field")],
    )
    .await;
    // `id` is not among them: a create may choose its id (see `client_ids.rs`).
    for system in ["created_at", "updated_at", "version", "deleted_at"] {
        let value = if system == "version" {
            json!(1)
        } else {
            json!("0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12")
        };
        assert_validation(
            app.post_json("/api/v1/items", &item_with(system, value.clone()))
                .await,
            &[(system, "read_only")],
        )
        .await;
        let mut body = json!({"body": "x"});
        body[system] = value;
        assert_validation(
            app.post_json("/api/v1/notes", &body).await,
            &[(system, "read_only")],
        )
        .await;
    }
    // Field names are case-sensitive.
    assert_validation(
        app.post_json("/api/v1/items", &item_with("Title", json!("x")))
            .await,
        &[("Title", "unknown_field")],
    )
    .await;
    assert_eq!(count_items(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app(TEST_SCHEMA).await;
    let body = json!({
        "colour": "red",
        "created_at": "2026-01-31T09:30:00Z",
        "code": "bad",
        "qty": "3",
        "price": "abc",
        "active": "yes",
        "due": "2026-13-01",
        "ref": "nope",
        "status": "bogus",
        "contact": "no-at-sign",
        "link": "ftp://x",
    });
    let problem = assert_validation(
        app.post_json("/api/v1/items", &body).await,
        &[
            ("colour", "unknown_field"),
            ("created_at", "read_only"),
            ("title", "required"),
            ("code", "pattern_mismatch"),
            ("qty", "invalid_type"),
            ("price", "invalid_format"),
            ("active", "invalid_type"),
            ("due", "invalid_format"),
            ("ref", "invalid_format"),
            ("status", "invalid_enum"),
            ("contact", "invalid_format"),
            ("link", "invalid_format"),
        ],
    )
    .await;
    assert_eq!(problem["detail"], "The body has 12 invalid fields.");
    assert_eq!(count_items(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_validation_problem_has_this_exact_body() {
    let app = spawn_app(TEST_SCHEMA).await;
    let response = app
        .post_json("/api/v1/items", &json!({"title": "Desk lamp", "qty": 1001}))
        .await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let problem = assert_validation(response, &[("qty", "too_large")]).await;
    assert_eq!(
        problem,
        json!({
            "type": "urn:fathom:problem:validation_failed",
            "title": "Validation failed",
            "status": 400,
            "detail": "The body has 1 invalid field.",
            "code": "validation_failed",
            "hint": "Fix the fields listed in `errors` and send the request again.",
            "errors": [{"field": "qty", "code": "too_large", "message": "The field `qty` must be at most 1000."}],
            "requestId": request_id,
        })
    );
    app.stop().await;
}

#[tokio::test]
async fn timestamps_outside_the_canonical_range_are_invalid_format() {
    let app = spawn_app(TEST_SCHEMA).await;
    // The extremes that do fit are accepted as they are.
    for seen_at in ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
        let created = app
            .create("items", &item_with("seen_at", json!(seen_at)))
            .await;
        assert_eq!(created["seen_at"], seen_at);
    }
    // Both are valid RFC 3339, but in UTC they fall in year -1 and year 10000, which the canonical
    // fixed-width form `YYYY-MM-DDTHH:MM:SS.mmmZ` cannot hold.
    for seen_at in ["0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"] {
        let response = app
            .post_json("/api/v1/items", &item_with("seen_at", json!(seen_at)))
            .await;
        assert_validation(response, &[("seen_at", "invalid_format")]).await;
    }
    assert_eq!(count_items(&app).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn decimals_are_never_silently_rounded() {
    let app = spawn_app(TEST_SCHEMA).await;
    let too_big = "123456789012345678901234567890";
    let response = app
        .post_json("/api/v1/items", &item_with("price", json!(too_big)))
        .await;
    assert_validation(response, &[("price", "invalid_format")]).await;
    // 29 decimal places: more than a 96-bit decimal holds. The value must be stored exactly or
    // refused, never changed.
    let precise = "0.12345678901234567890123456789";
    let response = app
        .post_json("/api/v1/items", &item_with("price", json!(precise)))
        .await;
    if response.status() == 201 {
        let created = json_with_status(response, 201).await;
        assert_eq!(
            created["data"]["price"], precise,
            "the decimal was changed on the way in"
        );
    } else {
        assert_validation(response, &[("price", "invalid_format")]).await;
    }
    app.stop().await;
}

/// NUL cannot be stored (PostgreSQL refuses it in text and `jsonb`; SQLite kept it), so it is
/// refused everywhere a string is written, on create and on update.
#[tokio::test]
async fn nul_characters_are_refused_in_every_kind_of_text() {
    let app = spawn_app(TEST_SCHEMA).await;
    let cases = [
        ("title", json!("Desk\u{0}lamp")),
        ("status", json!("new\u{0}")),
        ("contact", json!("ada\u{0}@example.com")),
        ("link", json!("https://example.com/\u{0}")),
        ("meta", json!({"tags": ["ok", "n\u{0}l"]})),
        ("meta", json!({"k\u{0}": 1})),
    ];
    let created = app.create("items", &json!({"title": "Desk lamp"})).await;
    let path = format!("/api/v1/items/{}", id_of(&created));
    for (field, value) in cases {
        let response = app
            .post_json("/api/v1/items", &item_with(field, value.clone()))
            .await;
        assert_validation(response, &[(field, "invalid_character")]).await;
        let response = app.patch_json(&path, &json!({ field: value })).await;
        assert_validation(response, &[(field, "invalid_character")]).await;
    }
    assert_eq!(count_items(&app).await, 1);
    let stored = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(stored["data"]["title"], "Desk lamp");
    app.stop().await;
}

/// `23:59:60` (a leap second) is valid RFC 3339, but the instant it names cannot be stored: it
/// used to become `23:59:59.999Z`, a time the client never sent.
#[tokio::test]
async fn a_leap_second_is_refused_not_rounded() {
    let app = spawn_app(TEST_SCHEMA).await;
    for seen_at in ["2026-12-31T23:59:60Z", "2016-12-31T23:59:60.5+00:00"] {
        let response = app
            .post_json("/api/v1/items", &item_with("seen_at", json!(seen_at)))
            .await;
        assert_validation(response, &[("seen_at", "invalid_format")]).await;
    }
    let created = app
        .create(
            "items",
            &item_with("seen_at", json!("2026-12-31T23:59:59Z")),
        )
        .await;
    assert_eq!(created["seen_at"], "2026-12-31T23:59:59.000Z");
    let path = format!("/api/v1/items/{}", id_of(&created));
    let response = app
        .patch_json(&path, &json!({"seen_at": "2026-12-31T23:59:60Z"}))
        .await;
    assert_validation(response, &[("seen_at", "invalid_format")]).await;
    assert_eq!(count_items(&app).await, 1);
    app.stop().await;
}

/// "Café" spelled with a precomposed é (NFC) and with e + U+0301 (NFD) is one value: text, email,
/// url and enum values are stored in NFC, so `unique` sees one value and a filter written in
/// either spelling finds it.
#[tokio::test]
async fn two_unicode_spellings_of_one_text_are_one_value() {
    const NFC: &str = "Caf\u{e9}";
    const NFD: &str = "Cafe\u{301}";
    let schema = format!(
        "[collections.places]\n\
         fields.name = {{ type = \"text\", unique = true }}\n\
         fields.kind = {{ type = \"enum\", values = [\"{}\", \"bar\"] }}\n\
         fields.contact = {{ type = \"email\" }}\n\
         fields.site = {{ type = \"url\" }}\n",
        NFC.to_lowercase()
    );
    let app = spawn_app(&schema).await;
    let nfd_place = json!({
        "name": NFD,
        "kind": NFD.to_lowercase(),
        "contact": format!("{NFD}@example.com"),
        "site": format!("https://example.com/{NFD}"),
    });
    let created = app.create("places", &nfd_place).await;
    assert_eq!(created["name"], NFC);
    assert_eq!(created["kind"], NFC.to_lowercase());
    assert_eq!(created["contact"], format!("{NFC}@example.com"));
    assert_eq!(created["site"], format!("https://example.com/{NFC}"));

    let again = app.post_json("/api/v1/places", &json!({"name": NFC})).await;
    assert_problem(again, 409, "unique_violation").await;

    for spelling in [NFC, NFD] {
        let filter = format!("name = \"{spelling}\"");
        let list = json_with_status(
            app.get(&format!("/api/v1/places?filter={}", encode(&filter)))
                .await,
            200,
        )
        .await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{filter}");
    }

    let other = app.create("places", &json!({"name": "Bar"})).await;
    let path = format!("/api/v1/places/{}", id_of(&other));
    let patched = app
        .patch_json(&path, &json!({"name": format!("{NFD}!")}))
        .await;
    let patched = json_with_status(patched, 200).await;
    assert_eq!(patched["data"]["name"], format!("{NFC}!"));
    let clash = app.patch_json(&path, &json!({"name": NFD})).await;
    assert_problem(clash, 409, "unique_violation").await;
    app.stop().await;
}
