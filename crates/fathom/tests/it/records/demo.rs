//! The bundled demo shop serves its seed data through the records API.

use std::collections::HashSet;

use super::support::id_of;
use crate::helpers::{json_with_status, spawn_demo};

#[tokio::test]
async fn the_demo_serves_its_seeded_shop() {
    let app = spawn_demo().await;
    let categories = json_with_status(app.get("/api/v1/categories?count=true").await, 200).await;
    assert_eq!(categories["meta"]["page"]["total"], 3);
    let names: Vec<&str> = categories["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["Lighting", "Furniture", "Kitchen"],
        "in creation order"
    );

    let products = json_with_status(app.get("/api/v1/products?count=true").await, 200).await;
    assert_eq!(products["meta"]["page"]["total"], 6);
    let products = products["data"].as_array().expect("array");
    assert_eq!(products.len(), 6);
    let category_ids: HashSet<String> = categories["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(id_of)
        .collect();

    let lamp = &products[0];
    assert_eq!(lamp["sku"], "LAMP-001");
    assert_eq!(lamp["price"], "89.00", "decimals keep their scale");
    assert_eq!(
        lamp["attributes"],
        serde_json::json!({"finish": "brass", "bulb": "E27"})
    );
    for product in products {
        let category = product["category"]
            .as_str()
            .expect("every seeded product has a category");
        assert!(
            category_ids.contains(category),
            "{category} is one of the listed categories"
        );
        let resolved = json_with_status(
            app.get(&format!("/api/v1/categories/{category}")).await,
            200,
        )
        .await;
        assert_eq!(resolved["data"]["id"], category);
    }
    let lamp_category = json_with_status(
        app.get(&format!(
            "/api/v1/categories/{}",
            lamp["category"].as_str().expect("id")
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(lamp_category["data"]["name"], "Lighting");

    for (collection, total) in [("customers", 2), ("orders", 2), ("order_items", 2)] {
        let list = json_with_status(
            app.get(&format!("/api/v1/{collection}?count=true")).await,
            200,
        )
        .await;
        assert_eq!(list["meta"]["page"]["total"], total, "{collection}");
    }
    app.stop().await;
}
