//! Bad filters: every kind of mistake is a 400 `invalid_query` naming `filter`, with the column in
//! the detail and a hint that helps; hostile input is refused cheaply and the server keeps serving.

use super::support::{assert_rejected, detail, encode, hint};
use crate::helpers::{TestApp, assert_problem, json_with_status, spawn_app, spawn_demo};

/// Asserts `filter` on `collection` is refused; returns the problem.
async fn refused(app: &TestApp, collection: &str, filter: &str) -> serde_json::Value {
    assert_rejected(
        app,
        &format!("/api/v1/{collection}?filter={}", encode(filter)),
        "filter",
    )
    .await
}

#[tokio::test]
async fn syntax_errors_name_the_column() {
    let app = spawn_demo().await;
    let cases: &[(&str, usize)] = &[
        // The end of the expression is one past its last character.
        (r#"status = "paid" &&"#, 19),
        ("total >= 100 )", 14),
        (r#"status "paid""#, 8),
        ("(total > 1", 11),
        ("total > > 1", 9),
        (r#"status = "paid"#, 10),
        ("customer. = 1", 11),
        ("total in [1, 2", 15),
        ("@", 1),
    ];
    for (filter, column) in cases {
        let problem = refused(&app, "orders", filter).await;
        let detail = detail(&problem);
        assert!(
            detail.contains(&format!("column {column}")),
            "{filter:?}: the detail names column {column}: {problem}"
        );
        assert_eq!(problem["errors"][0]["code"], "invalid_parameter");
        assert!(!hint(&problem).is_empty());
    }
    let problem = refused(&app, "orders", "").await;
    assert!(detail(&problem).contains("empty"), "{problem}");
    let problem = refused(&app, "orders", "   ").await;
    assert!(detail(&problem).contains("empty"), "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_fields_are_refused_with_the_fields_listed() {
    let app = spawn_demo().await;
    let problem = refused(&app, "products", r#"colour = "red""#).await;
    assert!(detail(&problem).contains("colour"), "{problem}");
    assert!(detail(&problem).contains("column 1"), "{problem}");
    let fields_hint = hint(&problem);
    for field in [
        "id",
        "name",
        "sku",
        "price",
        "stock",
        "category",
        "status",
        "attributes",
    ] {
        assert!(
            fields_hint.contains(field),
            "the hint lists `{field}`: {fields_hint}"
        );
    }
    // An unknown field behind a relation lists the related collection's fields.
    let problem = refused(&app, "products", r#"stock > 1 && category.title = "x""#).await;
    assert!(detail(&problem).contains("title"), "{problem}");
    assert!(detail(&problem).contains("column 14"), "{problem}");
    assert!(hint(&problem).contains("slug"), "{problem}");
    // Columns count characters, not bytes.
    let problem = refused(&app, "products", r#"name = "é" && colour = 1"#).await;
    assert!(detail(&problem).contains("column 15"), "{problem}");
    // Following a field that is not a relation.
    let problem = refused(&app, "products", r#"name.first = "x""#).await;
    assert!(detail(&problem).contains("not a relation"), "{problem}");
    // `deleted_at` is internal, not a field.
    refused(&app, "products", "deleted_at = null").await;
    app.stop().await;
}

#[tokio::test]
async fn values_must_fit_the_field() {
    let app = spawn_demo().await;
    let problem = refused(&app, "products", r#"status = "sold""#).await;
    assert!(detail(&problem).contains("sold"), "{problem}");
    assert!(
        hint(&problem).contains("draft") && hint(&problem).contains("archived"),
        "the hint lists the enum's values: {problem}"
    );
    let problem = refused(&app, "products", r#"status in ["active", "gone"]"#).await;
    assert!(detail(&problem).contains("gone"), "{problem}");
    let problem = refused(&app, "orders", r#"customer.tier = "platinum""#).await;
    assert!(detail(&problem).contains("platinum"), "{problem}");

    for (collection, filter, column) in [
        ("products", r#"stock = "many""#, 9),
        ("products", "price = true", 9),
        ("products", "name = 5", 8),
        ("orders", r#"placed_at > "yesterday""#, 13),
        ("orders", r#"placed_at > "2026-13-01""#, 13),
        ("orders", "gift = 1", 8),
        ("orders", "gift > true", 6),
        ("orders", r#"customer = "not-a-uuid""#, 12),
        ("customers", r#"birthday = "1906-12-9""#, 12),
        ("products", r#"name = price"#, 6),
        ("products", r#"price ~ "1%""#, 7),
        ("products", r#"status in [null]"#, 11),
        ("products", r#"stock > null"#, 7),
        ("products", r#"1 = 1"#, 3),
    ] {
        let problem = refused(&app, collection, filter).await;
        assert!(
            detail(&problem).contains(&format!("column {column}")),
            "{filter:?}: column {column}: {problem}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn json_fields_only_test_for_null() {
    let app = spawn_demo().await;
    for filter in [
        r#"attributes = "brass""#,
        r#"attributes != "brass""#,
        r#"attributes ~ "brass""#,
        r#"attributes in ["brass"]"#,
        "attributes > 1",
    ] {
        let problem = refused(&app, "products", filter).await;
        assert!(
            detail(&problem).contains("json"),
            "{filter:?}: the detail says why: {problem}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn relation_paths_stop_at_two_hops() {
    let app = spawn_app(
        r#"
[collections.regions]
fields.name = { type = "text" }

[collections.countries]
fields.name = { type = "text" }
fields.region = { type = "relation", collection = "regions" }

[collections.cities]
fields.name = { type = "text" }
fields.country = { type = "relation", collection = "countries" }

[collections.streets]
fields.name = { type = "text" }
fields.city = { type = "relation", collection = "cities" }
"#,
    )
    .await;
    let ok = app
        .get(&format!(
            "/api/v1/streets?filter={}",
            encode(r#"city.country.name = "x""#)
        ))
        .await;
    json_with_status(ok, 200).await;
    let problem = refused(&app, "streets", r#"city.country.region.name = "x""#).await;
    assert!(detail(&problem).contains("two"), "{problem}");
    assert!(detail(&problem).contains("column 1"), "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn oversized_and_deeply_nested_filters_are_refused_and_the_server_keeps_answering() {
    let app = spawn_demo().await;

    // Longer than 4096 bytes.
    let long = format!(r#"name = "{}""#, "a".repeat(4100));
    let problem = refused(&app, "products", &long).await;
    assert!(detail(&problem).contains("4096"), "{problem}");
    // Exactly at the limit is still parsed (and matches nothing).
    let at_limit = format!(r#"name = "{}""#, "a".repeat(4096 - 9));
    assert_eq!(at_limit.len(), 4096);
    let body = json_with_status(
        app.get(&format!("/api/v1/products?filter={}", encode(&at_limit)))
            .await,
        200,
    )
    .await;
    assert_eq!(body["data"], serde_json::json!([]));

    // More than 200 nodes, well under the length limit: 70 comparisons of 3 nodes each.
    let many = (0..70)
        .map(|n| format!("stock = {n}"))
        .collect::<Vec<_>>()
        .join(" || ");
    assert!(many.len() < 4096);
    let problem = refused(&app, "products", &many).await;
    assert!(detail(&problem).contains("200"), "{problem}");
    // A long `in` list counts each item too.
    let list = (0..250)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    refused(&app, "products", &format!("stock in [{list}]")).await;

    // Nesting deeper than the parser allows, within the length limit.
    let deep = format!("{}stock = 1{}", "(".repeat(100), ")".repeat(100));
    let problem = refused(&app, "products", &deep).await;
    assert!(detail(&problem).contains("nests"), "{problem}");
    let negations = format!("{}stock = 1", "!".repeat(100));
    refused(&app, "products", &negations).await;

    // Ten thousand `(` (30 KB once escaped): refused before any parsing, as a request target
    // over the limit, and the server is still there.
    let parens = "(".repeat(10_000);
    let target = format!("/api/v1/products?filter={}", encode(&parens));
    assert_problem(app.get(&target).await, 414, "uri_too_long").await;
    let unbalanced = format!("{}stock = 1", "(".repeat(2000));
    refused(&app, "products", &unbalanced).await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
    let body = json_with_status(
        app.get(&format!("/api/v1/products?filter={}", encode("stock = 0")))
            .await,
        200,
    )
    .await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

#[tokio::test]
async fn unknown_duplicate_and_malformed_parameters_are_refused() {
    let app = spawn_demo().await;
    let problem = assert_rejected(&app, "/api/v1/products?colour=red", "colour").await;
    assert!(
        hint(&problem).contains("filter"),
        "the hint lists the parameters: {problem}"
    );
    assert_rejected(&app, "/api/v1/products?Filter=stock%3D1", "Filter").await;
    assert_rejected(
        &app,
        "/api/v1/products?filter=stock%3D1&filter=stock%3D2",
        "filter",
    )
    .await;
    assert_rejected(&app, "/api/v1/products?sort=name&sort=-name", "sort").await;
    for limit in ["0", "101", "-1", "ten", "", "1.5"] {
        assert_rejected(&app, &format!("/api/v1/products?limit={limit}"), "limit").await;
    }
    for offset in ["-1", "x", ""] {
        assert_rejected(&app, &format!("/api/v1/products?offset={offset}"), "offset").await;
    }
    for count in ["yes", "TRUE", ""] {
        assert_rejected(&app, &format!("/api/v1/products?count={count}"), "count").await;
    }
    // A single record takes only `fields` and `expand`.
    let lamp = super::support::id_where(&app, "products", "sku", "LAMP-001").await;
    assert_rejected(&app, &format!("/api/v1/products/{lamp}?limit=5"), "limit").await;
    assert_rejected(
        &app,
        &format!("/api/v1/products/{lamp}?fields=name&fields=sku"),
        "fields",
    )
    .await;
    app.stop().await;
}
