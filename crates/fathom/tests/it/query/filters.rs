//! Filters on the demo shop: every operator, the null semantics, and relation paths, each asserted
//! as an exact result set.

use serde_json::json;

use super::support::{id_where, list_filtered, matching, set};
use crate::helpers::{TestApp, spawn_demo};

async fn products(app: &TestApp, filter: &str) -> Vec<String> {
    matching(app, "products", filter, "name").await
}

async fn customers(app: &TestApp, filter: &str) -> Vec<String> {
    matching(app, "customers", filter, "name").await
}

/// Orders, named by their total (unique in the demo).
async fn orders(app: &TestApp, filter: &str) -> Vec<String> {
    matching(app, "orders", filter, "total").await
}

/// Order items, named by their unit price (unique in the demo).
async fn order_items(app: &TestApp, filter: &str) -> Vec<String> {
    matching(app, "order_items", filter, "unit_price").await
}

const ALL_PRODUCTS: [&str; 6] = [
    "Brass desk lamp",
    "Paper floor lamp",
    "Oak side table",
    "Walnut bookshelf",
    "Cast iron pan",
    "Linen apron",
];

#[tokio::test]
async fn equality_membership_and_negation_select_exact_sets() {
    let app = spawn_demo().await;
    assert_eq!(
        products(&app, r#"status = "active""#).await,
        set(&[
            "Brass desk lamp",
            "Paper floor lamp",
            "Oak side table",
            "Cast iron pan"
        ])
    );
    assert_eq!(
        products(&app, r#"status != "active""#).await,
        set(&["Walnut bookshelf", "Linen apron"])
    );
    assert_eq!(
        products(&app, r#"status in ["draft", "archived"]"#).await,
        set(&["Walnut bookshelf", "Linen apron"])
    );
    assert_eq!(
        products(&app, r#"status in []"#).await,
        set(&[]),
        "an empty list matches nothing"
    );
    assert_eq!(
        products(&app, r#"!(status = "active")"#).await,
        set(&["Walnut bookshelf", "Linen apron"])
    );
    assert_eq!(
        products(&app, r#"!(status = "active" || stock = 0)"#).await,
        set(&["Linen apron"])
    );
    assert_eq!(
        products(&app, r#"sku == "TBL-010""#).await,
        set(&["Oak side table"]),
        "`==` is `=`"
    );
    assert_eq!(
        products(&app, "name = \"brass desk lamp\"").await,
        set(&[]),
        "`=` on text is case-sensitive"
    );
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    assert_eq!(
        products(&app, &format!("id = \"{lamp}\"")).await,
        set(&["Brass desk lamp"])
    );
    assert_eq!(
        products(&app, &format!("id = \"{}\"", lamp.to_uppercase())).await,
        set(&["Brass desk lamp"]),
        "ids compare in canonical (lowercase) form"
    );
    // The example from the documentation.
    assert_eq!(
        orders(
            &app,
            r#"status = "paid" && (total >= 100 || customer.tier in ["gold", "vip"])"#
        )
        .await,
        set(&["178.00"])
    );
    app.stop().await;
}

#[tokio::test]
async fn ranges_compare_decimals_and_integers_as_numbers() {
    let app = spawn_demo().await;
    // As text, "24.00" > "100" would hold: decimals must compare as numbers.
    assert_eq!(
        products(&app, "price > 100").await,
        set(&["Paper floor lamp", "Oak side table", "Walnut bookshelf"])
    );
    assert_eq!(
        products(&app, "price >= 100 && price < 300").await,
        set(&["Paper floor lamp", "Oak side table"])
    );
    assert_eq!(
        products(&app, "price = 89").await,
        set(&["Brass desk lamp"]),
        "89 equals the stored 89.00"
    );
    assert_eq!(
        products(&app, r#"price = "129.5""#).await,
        set(&["Paper floor lamp"]),
        "a decimal may be written as a string"
    );
    assert_eq!(
        products(&app, "price <= 45.9").await,
        set(&["Cast iron pan", "Linen apron"])
    );
    assert_eq!(
        products(&app, "100 <= price && 300 > price").await,
        set(&["Paper floor lamp", "Oak side table"]),
        "a value on the left mirrors the operator"
    );
    assert_eq!(
        products(&app, "stock > 3 && stock <= 18").await,
        set(&["Brass desk lamp", "Paper floor lamp", "Linen apron"])
    );
    assert_eq!(
        products(&app, "stock = 0").await,
        set(&["Walnut bookshelf"])
    );
    assert_eq!(
        products(&app, "stock >= 12.5").await,
        set(&["Cast iron pan", "Linen apron"]),
        "an integer field compares with a fractional number"
    );
    assert_eq!(
        products(&app, r#"price in [89, "24.00", 1000]"#).await,
        set(&["Brass desk lamp", "Linen apron"]),
        "`in` compares decimals by value too"
    );
    assert_eq!(
        products(&app, "stock in [0, 30]").await,
        set(&["Walnut bookshelf", "Cast iron pan"])
    );
    assert_eq!(
        products(&app, "stock < 0").await,
        set(&[]),
        "an empty range matches nothing"
    );
    assert_eq!(
        products(&app, "price >= 0").await,
        set(&ALL_PRODUCTS),
        "every product has a price"
    );
    app.stop().await;
}

#[tokio::test]
async fn timestamps_dates_and_booleans_compare_by_value() {
    let app = spawn_demo().await;
    assert_eq!(
        orders(&app, r#"placed_at >= "2026-11-15""#).await,
        set(&["45.90"])
    );
    assert_eq!(
        orders(&app, r#"placed_at < "2026-11-15""#).await,
        set(&["178.00"])
    );
    assert_eq!(
        orders(&app, r#"placed_at = "2026-11-01T11:15:00+01:00""#).await,
        set(&["178.00"]),
        "an offset timestamp is the same instant in UTC"
    );
    assert_eq!(
        orders(&app, r#"placed_at > "2026-11-01T10:15:00Z""#).await,
        set(&["45.90"]),
        "strictly after excludes the equal instant"
    );
    assert_eq!(
        orders(
            &app,
            r#"placed_at >= "2026-11-01T10:15:00.000Z" && placed_at <= "2026-11-20T16:40:00Z""#
        )
        .await,
        set(&["178.00", "45.90"]),
        "both bounds are inclusive"
    );
    assert_eq!(
        orders(
            &app,
            r#"placed_at in ["2026-11-01T10:15:00Z", "2026-11-20"]"#
        )
        .await,
        set(&["178.00"]),
        "`in` compares timestamps as instants"
    );
    assert_eq!(orders(&app, "gift = true").await, set(&["45.90"]));
    assert_eq!(orders(&app, "gift in [true]").await, set(&["45.90"]));
    assert_eq!(orders(&app, "gift = false").await, set(&["178.00"]));
    assert_eq!(orders(&app, "gift != true").await, set(&["178.00"]));
    assert_eq!(
        customers(&app, r#"birthday < "1950-01-01""#).await,
        set(&["Grace Hopper"])
    );
    app.stop().await;
}

#[tokio::test]
async fn like_is_case_insensitive_and_wraps_patterns_without_percent() {
    let app = spawn_demo().await;
    assert_eq!(
        products(&app, r#"name ~ "LAMP""#).await,
        set(&["Brass desk lamp", "Paper floor lamp"]),
        "no `%`: matches anywhere, ignoring case"
    );
    assert_eq!(
        products(&app, r#"name ~ "oak%""#).await,
        set(&["Oak side table"]),
        "with `%`: anchored as written"
    );
    assert_eq!(products(&app, r#"name ~ "lamp%""#).await, set(&[]));
    assert_eq!(
        products(&app, r#"name ~ "%PAN""#).await,
        set(&["Cast iron pan"])
    );
    assert_eq!(
        products(&app, r#"sku ~ "kit-10_""#).await,
        set(&["Cast iron pan", "Linen apron"]),
        "`_` is one character"
    );
    assert_eq!(
        products(&app, r#"name !~ "lamp""#).await,
        set(&[
            "Oak side table",
            "Walnut bookshelf",
            "Cast iron pan",
            "Linen apron"
        ])
    );
    assert_eq!(
        customers(&app, r#"email ~ "GRACE@""#).await,
        set(&["Grace Hopper"]),
        "emails match as text"
    );
    app.stop().await;
}

#[tokio::test]
async fn comparisons_with_null_are_false_and_null_checks_find_missing_values() {
    let app = spawn_demo().await;
    // Ada has a website and no birthday; Grace has a birthday and no website.
    assert_eq!(
        customers(&app, "website = null").await,
        set(&["Grace Hopper"])
    );
    assert_eq!(
        customers(&app, "website != null").await,
        set(&["Ada Lovelace"])
    );
    assert_eq!(
        customers(&app, "birthday = null").await,
        set(&["Ada Lovelace"])
    );
    assert_eq!(
        customers(&app, r#"website != "https://example.com/ada""#).await,
        set(&[]),
        "a comparison with a null value is false, `!=` included"
    );
    assert_eq!(
        customers(&app, r#"!(website = "https://example.com/ada")"#).await,
        set(&["Grace Hopper"]),
        "negating a false comparison matches the null"
    );
    assert_eq!(
        customers(&app, r#"!(birthday < "1950-01-01")"#).await,
        set(&["Ada Lovelace"])
    );
    assert_eq!(
        customers(&app, r#"website ~ "example""#).await,
        set(&["Ada Lovelace"]),
        "`~` never matches null"
    );
    assert_eq!(
        products(&app, "attributes != null").await,
        set(&["Brass desk lamp"]),
        "json fields can be tested for null"
    );
    assert_eq!(products(&app, "attributes = null").await.len(), 5);
    assert_eq!(
        customers(&app, "null = website").await,
        set(&["Grace Hopper"]),
        "null on the left is the same check"
    );
    app.stop().await;
}

#[tokio::test]
async fn relation_paths_follow_one_and_two_hops() {
    let app = spawn_demo().await;
    assert_eq!(
        orders(&app, r#"customer.tier = "vip""#).await,
        set(&["45.90"])
    );
    assert_eq!(
        orders(&app, r#"customer.tier in ["gold", "standard"]"#).await,
        set(&["178.00"])
    );
    assert_eq!(
        orders(
            &app,
            r#"customer.name ~ "ada" || customer.birthday != null"#
        )
        .await,
        set(&["178.00", "45.90"])
    );
    assert_eq!(
        products(&app, r#"category.name = "Kitchen""#).await,
        set(&["Cast iron pan", "Linen apron"])
    );
    assert_eq!(
        products(&app, r#"category.slug != "kitchen" && price < 100"#).await,
        set(&["Brass desk lamp"])
    );
    assert_eq!(
        order_items(&app, r#"order.customer.tier = "gold""#).await,
        set(&["89.00"])
    );
    assert_eq!(
        order_items(&app, r#"order.customer.name ~ "HOPPER""#).await,
        set(&["45.90"])
    );
    assert_eq!(
        order_items(&app, r#"product.category.name = "Lighting""#).await,
        set(&["89.00"])
    );
    assert_eq!(
        order_items(&app, r#"order.gift = true && product.stock > 10"#).await,
        set(&["45.90"])
    );
    // A second order of Ada's with an item that points at the same product: no duplicates from
    // the joins.
    let ada = id_where(&app, "customers", "email", "ada@example.com").await;
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    let order = app
        .create(
            "orders",
            &json!({"customer": ada, "total": "89.00", "placed_at": "2026-12-01T00:00:00Z"}),
        )
        .await;
    app.create(
        "order_items",
        &json!({"order": order["id"], "product": lamp, "quantity": 1, "unit_price": "88.00"}),
    )
    .await;
    assert_eq!(
        order_items(&app, r#"order.customer.tier = "gold""#).await,
        set(&["88.00", "89.00"])
    );
    assert_eq!(
        orders(&app, r#"customer.email = "ada@example.com""#).await,
        set(&["178.00", "89.00"])
    );
    app.stop().await;
}

#[tokio::test]
async fn a_soft_deleted_record_no_longer_matches_relation_filters_through_it() {
    let app = spawn_demo().await;
    assert_eq!(
        order_items(&app, r#"product.name ~ "lamp""#).await,
        set(&["89.00"])
    );
    assert_eq!(order_items(&app, "product.name = null").await, set(&[]));
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    let response = app.delete(&format!("/api/v1/products/{lamp}")).await;
    assert_eq!(response.status(), 204);

    assert_eq!(
        order_items(&app, r#"product.name ~ "lamp""#).await,
        set(&[]),
        "the deleted lamp is no longer reachable through the relation"
    );
    assert_eq!(
        order_items(&app, r#"product.name = "Brass desk lamp""#).await,
        set(&[])
    );
    assert_eq!(
        order_items(&app, "product.name = null").await,
        set(&["89.00"]),
        "a path through a soft-deleted record reads null"
    );
    assert_eq!(
        order_items(&app, &format!("product = \"{lamp}\"")).await,
        set(&["89.00"]),
        "the relation column itself still holds the id"
    );
    assert_eq!(
        products(&app, r#"name ~ "lamp""#).await,
        set(&["Paper floor lamp"]),
        "and the deleted product is not listed"
    );
    app.stop().await;
}

#[tokio::test]
async fn filters_combine_with_other_parameters() {
    let app = spawn_demo().await;
    let body = list_filtered(
        &app,
        "products",
        r#"category.name = "Lighting""#,
        "sort=-price",
    )
    .await;
    assert_eq!(
        super::support::column(&body, "name"),
        ["Paper floor lamp", "Brass desk lamp"]
    );
    let body = list_filtered(&app, "products", "  stock   >=   4  ", "count=true").await;
    assert_eq!(
        body["meta"]["page"]["total"], 4,
        "whitespace is insignificant"
    );
    app.stop().await;
}
