//! `sort`: several keys with `-` for descending, numeric order for decimals, nulls first ascending
//! and last descending, `id` as the implicit tiebreaker, and the errors.

use serde_json::json;

use super::support::{assert_rejected, column, data, detail, encode, get_ok, hint};
use crate::helpers::{TestApp, spawn_demo};

async fn names(app: &TestApp, collection: &str, query: &str) -> Vec<String> {
    column(
        &get_ok(app, &format!("/api/v1/{collection}?{query}")).await,
        "name",
    )
}

#[tokio::test]
async fn sorts_by_several_keys_in_either_direction() {
    let app = spawn_demo().await;
    assert_eq!(
        names(&app, "products", "sort=price").await,
        [
            "Linen apron",
            "Cast iron pan",
            "Brass desk lamp",
            "Paper floor lamp",
            "Oak side table",
            "Walnut bookshelf"
        ],
        "decimals sort as numbers, not as text"
    );
    assert_eq!(
        names(&app, "products", "sort=-price").await,
        [
            "Walnut bookshelf",
            "Oak side table",
            "Paper floor lamp",
            "Brass desk lamp",
            "Cast iron pan",
            "Linen apron"
        ]
    );
    assert_eq!(
        names(&app, "products", "sort=status,-price").await,
        [
            "Oak side table",
            "Paper floor lamp",
            "Brass desk lamp",
            "Cast iron pan",
            "Linen apron",
            "Walnut bookshelf"
        ]
    );
    assert_eq!(
        names(&app, "products", "sort=-status,stock").await,
        [
            "Walnut bookshelf",
            "Linen apron",
            "Oak side table",
            "Paper floor lamp",
            "Brass desk lamp",
            "Cast iron pan"
        ]
    );
    assert_eq!(
        names(&app, "products", "sort=%2Bstock").await,
        names(&app, "products", "sort=stock").await,
        "`+` is an explicit ascending"
    );
    assert_eq!(
        names(
            &app,
            "products",
            &format!("sort={}", encode(" -stock , name "))
        )
        .await,
        [
            "Cast iron pan",
            "Linen apron",
            "Brass desk lamp",
            "Paper floor lamp",
            "Oak side table",
            "Walnut bookshelf"
        ],
        "spaces around keys are ignored"
    );
    assert_eq!(
        names(&app, "products", "sort=name").await,
        [
            "Brass desk lamp",
            "Cast iron pan",
            "Linen apron",
            "Oak side table",
            "Paper floor lamp",
            "Walnut bookshelf"
        ]
    );
    assert_eq!(
        column(
            &get_ok(&app, "/api/v1/orders?sort=-placed_at").await,
            "total"
        ),
        ["45.90", "178.00"]
    );
    app.stop().await;
}

#[tokio::test]
async fn ties_are_broken_by_id() {
    let app = spawn_demo().await;
    for query in [
        "sort=status",
        "sort=-status",
        "sort=category",
        "sort=-category,status",
    ] {
        let body = get_ok(&app, &format!("/api/v1/products?{query}")).await;
        let records = data(&body);
        let keys: Vec<&str> = query.trim_start_matches("sort=").split(',').collect();
        for pair in records.windows(2) {
            let mut tied = true;
            for key in &keys {
                let name = key.trim_start_matches('-');
                if pair[0][name] != pair[1][name] {
                    tied = false;
                }
            }
            if tied {
                assert!(
                    pair[0]["id"].as_str() < pair[1]["id"].as_str(),
                    "{query}: equal keys are in ascending id order: {} then {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
    // `id` itself, and descending by id.
    let ascending = column(&get_ok(&app, "/api/v1/products?sort=id").await, "id");
    let mut sorted = ascending.clone();
    sorted.sort();
    assert_eq!(ascending, sorted);
    let descending = column(&get_ok(&app, "/api/v1/products?sort=-id").await, "id");
    sorted.reverse();
    assert_eq!(descending, sorted);
    app.stop().await;
}

#[tokio::test]
async fn nulls_come_first_ascending_and_last_descending() {
    let app = spawn_demo().await;
    // Ada and Edsger have no birthday.
    app.create(
        "customers",
        &json!({"email": "alan@example.com", "name": "Alan Turing", "birthday": "1912-06-23"}),
    )
    .await;
    app.create(
        "customers",
        &json!({"email": "edsger@example.com", "name": "Edsger Dijkstra"}),
    )
    .await;
    assert_eq!(
        names(&app, "customers", "sort=birthday,name").await,
        [
            "Ada Lovelace",
            "Edsger Dijkstra",
            "Grace Hopper",
            "Alan Turing"
        ]
    );
    assert_eq!(
        names(&app, "customers", "sort=-birthday,name").await,
        [
            "Alan Turing",
            "Grace Hopper",
            "Ada Lovelace",
            "Edsger Dijkstra"
        ]
    );
    assert_eq!(
        names(&app, "customers", "sort=-birthday,-name").await,
        [
            "Alan Turing",
            "Grace Hopper",
            "Edsger Dijkstra",
            "Ada Lovelace"
        ]
    );
    assert_eq!(
        names(&app, "customers", "sort=website,name").await,
        [
            "Alan Turing",
            "Edsger Dijkstra",
            "Grace Hopper",
            "Ada Lovelace"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn sort_combines_with_filter_and_system_fields() {
    let app = spawn_demo().await;
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/products?filter={}&sort=-stock",
            encode(r#"status = "active""#)
        ),
    )
    .await;
    assert_eq!(
        column(&body, "name"),
        [
            "Cast iron pan",
            "Brass desk lamp",
            "Paper floor lamp",
            "Oak side table"
        ]
    );
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/products?filter={}&sort=-created_at,name&count=true&limit=1",
            encode("price < 100")
        ),
    )
    .await;
    assert_eq!(body["meta"]["page"]["total"], 3);
    assert_eq!(data(&body).len(), 1);
    for query in [
        "sort=created_at",
        "sort=-updated_at",
        "sort=version,-id",
        "sort=name,price,stock,status,id",
    ] {
        get_ok(&app, &format!("/api/v1/products?{query}")).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_sorts_are_refused_naming_the_key() {
    let app = spawn_demo().await;
    let problem = assert_rejected(&app, "/api/v1/products?sort=colour", "sort").await;
    assert!(detail(&problem).contains("colour"), "{problem}");
    assert!(detail(&problem).contains("column 1"), "{problem}");
    assert!(
        hint(&problem).contains("price"),
        "the hint lists the fields: {problem}"
    );
    let problem = assert_rejected(&app, "/api/v1/products?sort=name,-colour", "sort").await;
    assert!(detail(&problem).contains("column 6"), "{problem}");
    let problem = assert_rejected(&app, "/api/v1/products?sort=attributes", "sort").await;
    assert!(detail(&problem).contains("json"), "{problem}");
    for sort in [
        "",
        "-",
        ",",
        "name,,price",
        "category.name",
        "deleted_at",
        "--price",
        "name,price,stock,status,sku",
        "name,-name",
    ] {
        assert_rejected(
            &app,
            &format!("/api/v1/products?sort={}", encode(sort)),
            "sort",
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn keys_after_id_are_still_checked() {
    let app = spawn_demo().await;
    let problem = assert_rejected(&app, "/api/v1/products?sort=id,colour", "sort").await;
    assert!(detail(&problem).contains("colour"), "{problem}");
    assert_rejected(&app, "/api/v1/products?sort=-id,attributes", "sort").await;
    app.stop().await;
}
