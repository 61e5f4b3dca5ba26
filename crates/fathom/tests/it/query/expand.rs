//! `fields` and `expand`: which fields a record keeps, relations loaded to one and to many, two
//! levels deep, the errors, and the proof that expansion costs one statement per level, not one
//! per record.

use serde_json::{Value, json};

use super::support::{assert_rejected, data, detail, encode, get_ok, hint, id_where};
use crate::helpers::{TestApp, spawn_app, spawn_demo};

fn keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn fields_keep_the_id_and_the_named_fields() {
    let app = spawn_demo().await;
    let body = get_ok(&app, "/api/v1/products?fields=name,price").await;
    assert_eq!(data(&body).len(), 6);
    for record in data(&body) {
        assert_eq!(keys(record), ["id", "name", "price"], "{record}");
    }
    let body = get_ok(&app, "/api/v1/products?fields=version,created_at,sku").await;
    for record in data(&body) {
        assert_eq!(keys(record), ["created_at", "id", "sku", "version"]);
    }
    let body = get_ok(
        &app,
        &format!("/api/v1/products?fields={}", encode(" name , id ")),
    )
    .await;
    assert_eq!(keys(&data(&body)[0]), ["id", "name"]);

    let body = get_ok(
        &app,
        "/api/v1/products?fields=name,category.name&expand=category&sort=name&limit=1",
    )
    .await;
    let record = &data(&body)[0];
    assert_eq!(keys(record), ["expand", "id", "name"]);
    assert_eq!(record["name"], "Brass desk lamp");
    assert_eq!(keys(&record["expand"]["category"]), ["id", "name"]);
    assert_eq!(record["expand"]["category"]["name"], "Lighting");

    // Expansion does not need the relation field itself to be selected.
    let body = get_ok(&app, "/api/v1/products?fields=name&expand=category&limit=1").await;
    let record = &data(&body)[0];
    assert_eq!(keys(record), ["expand", "id", "name"]);
    assert!(record["expand"]["category"]["name"].is_string(), "{record}");

    // A single record takes the same parameters.
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    let body = get_ok(
        &app,
        &format!("/api/v1/products/{lamp}?fields=sku,category.slug&expand=category"),
    )
    .await;
    assert_eq!(keys(&body["data"]), ["expand", "id", "sku"]);
    assert_eq!(keys(&body["data"]["expand"]["category"]), ["id", "slug"]);
    assert_eq!(body["data"]["expand"]["category"]["slug"], "lighting");
    let body = get_ok(&app, &format!("/api/v1/products/{lamp}?fields=stock")).await;
    assert_eq!(body["data"], json!({"id": lamp, "stock": 12}));

    // Inside a to-many expansion.
    let body = get_ok(
        &app,
        "/api/v1/orders?expand=order_items_via_order&fields=total,order_items_via_order.quantity&sort=-total",
    )
    .await;
    let order = &data(&body)[0];
    assert_eq!(keys(order), ["expand", "id", "total"]);
    let items = order["expand"]["order_items_via_order"]
        .as_array()
        .expect("array");
    assert_eq!(items.len(), 1);
    assert_eq!(keys(&items[0]), ["id", "quantity"]);
    assert_eq!(items[0]["quantity"], 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_fields_are_refused() {
    let app = spawn_demo().await;
    let problem = assert_rejected(&app, "/api/v1/products?fields=name,colour", "fields").await;
    assert!(detail(&problem).contains("colour"), "{problem}");
    assert!(
        hint(&problem).contains("price"),
        "the hint lists the fields: {problem}"
    );
    // `category.name` alone expands `category` (openapi::conformance pins that); a prefix that
    // is no relation is refused as `fields`.
    let problem = assert_rejected(&app, "/api/v1/products?fields=name,status.name", "fields").await;
    assert!(
        hint(&problem).contains("relation.field"),
        "the hint says what may be selected: {problem}"
    );
    let problem = assert_rejected(
        &app,
        "/api/v1/products?fields=category.colour&expand=category",
        "fields",
    )
    .await;
    assert!(hint(&problem).contains("slug"), "{problem}");
    assert_rejected(&app, "/api/v1/products?fields=deleted_at", "fields").await;
    // An empty name (the parameter empty, or two commas) selects nothing: refused, not ignored.
    for query in ["fields=", "fields=name,,price", "fields=name,"] {
        let problem = assert_rejected(&app, &format!("/api/v1/products?{query}"), "fields").await;
        assert!(detail(&problem).contains("empty"), "{query}: {problem}");
    }
    for query in ["expand=", "expand=category,,category", "expand=category,"] {
        let problem = assert_rejected(&app, &format!("/api/v1/products?{query}"), "expand").await;
        assert!(detail(&problem).contains("empty"), "{query}: {problem}");
    }
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    assert_rejected(
        &app,
        &format!("/api/v1/products/{lamp}?fields=colour"),
        "fields",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn expand_loads_relations_to_one_to_many_and_two_levels_deep() {
    let app = spawn_demo().await;
    // To one.
    let body = get_ok(&app, "/api/v1/products?expand=category&limit=100").await;
    let categories = get_ok(&app, "/api/v1/categories").await;
    for product in data(&body) {
        let category = &product["expand"]["category"];
        assert_eq!(category["id"], product["category"], "{product}");
        let listed = data(&categories)
            .iter()
            .find(|c| c["id"] == category["id"])
            .expect("the expanded category exists");
        assert_eq!(category, listed, "the expanded record is the whole record");
    }

    // To many: a second item on Ada's order.
    let ada_order = id_where(&app, "orders", "total", "178.00").await;
    let pan = id_where(&app, "products", "sku", "KIT-100").await;
    let extra = app
        .create(
            "order_items",
            &json!({"order": ada_order, "product": pan, "quantity": 3, "unit_price": "40.00"}),
        )
        .await;
    let empty_order = app
        .create(
            "orders",
            &json!({"customer": id_where(&app, "customers", "email", "ada@example.com").await,
                    "total": "0", "placed_at": "2026-12-24T00:00:00Z"}),
        )
        .await;
    let body = get_ok(&app, "/api/v1/orders?expand=order_items_via_order").await;
    for order in data(&body) {
        let items = order["expand"]["order_items_via_order"]
            .as_array()
            .expect("a to-many expansion is an array");
        for item in items {
            assert_eq!(item["order"], order["id"]);
        }
        let expected = match order["total"].as_str() {
            Some("178.00") => 2,
            Some("45.90") => 1,
            _ => 0,
        };
        assert_eq!(items.len(), expected, "{order}");
        if order["id"] == empty_order["id"] {
            assert_eq!(order["expand"]["order_items_via_order"], json!([]));
        }
    }
    let body = get_ok(
        &app,
        &format!("/api/v1/orders/{ada_order}?expand=order_items_via_order,customer"),
    )
    .await;
    let items = body["data"]["expand"]["order_items_via_order"]
        .as_array()
        .expect("array");
    assert!(items.iter().any(|i| i["id"] == extra["id"]));
    assert_eq!(body["data"]["expand"]["customer"]["name"], "Ada Lovelace");

    // Two levels.
    let body = get_ok(
        &app,
        "/api/v1/order_items?expand=order.customer,product&sort=unit_price",
    )
    .await;
    let names: Vec<&Value> = data(&body)
        .iter()
        .map(|i| &i["expand"]["order"]["expand"]["customer"]["name"])
        .collect();
    assert_eq!(
        names,
        [
            &json!("Ada Lovelace"),
            &json!("Grace Hopper"),
            &json!("Ada Lovelace")
        ]
    );
    for item in data(&body) {
        assert_eq!(item["expand"]["order"]["id"], item["order"]);
        assert_eq!(item["expand"]["product"]["id"], item["product"]);
        assert_eq!(
            item["expand"]["order"]["expand"]["customer"]["id"],
            item["expand"]["order"]["customer"]
        );
    }
    // Two levels through a to-many.
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/customers?expand=orders_via_customer.order_items_via_order&filter={}",
            encode(r#"name ~ "ada""#)
        ),
    )
    .await;
    let orders = data(&body)[0]["expand"]["orders_via_customer"]
        .as_array()
        .expect("array");
    assert_eq!(orders.len(), 2);
    let item_counts: Vec<usize> = orders
        .iter()
        .map(|o| {
            o["expand"]["order_items_via_order"]
                .as_array()
                .map_or(99, Vec::len)
        })
        .collect();
    assert_eq!(item_counts, [2, 0]);
    app.stop().await;
}

#[tokio::test]
async fn a_missing_or_deleted_related_record_expands_to_null() {
    let app = spawn_demo().await;
    let loose = app
        .create(
            "products",
            &json!({"name": "Loose screw", "sku": "MISC-1", "price": "0.10"}),
        )
        .await;
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/products/{}?expand=category",
            loose["id"].as_str().expect("id")
        ),
    )
    .await;
    assert!(body["data"]["category"].is_null());
    assert_eq!(body["data"]["expand"], json!({"category": null}));
    let body = get_ok(
        &app,
        "/api/v1/products?expand=category&sort=-created_at&limit=1",
    )
    .await;
    assert_eq!(data(&body)[0]["expand"]["category"], Value::Null);

    // The lamp in Ada's order is soft-deleted: expansion agrees with filters that it is gone.
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    assert_eq!(
        app.delete(&format!("/api/v1/products/{lamp}"))
            .await
            .status(),
        204
    );
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/order_items?expand=product&filter={}",
            encode(&format!("product = \"{lamp}\""))
        ),
    )
    .await;
    assert_eq!(data(&body).len(), 1);
    assert_eq!(data(&body)[0]["expand"]["product"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn bad_expansions_are_refused_with_the_expandable_names() {
    let app = spawn_demo().await;
    let problem = assert_rejected(&app, "/api/v1/products?expand=supplier", "expand").await;
    assert!(detail(&problem).contains("supplier"), "{problem}");
    assert_eq!(
        hint(&problem),
        "It can expand: category, order_items_via_product.",
        "{problem}"
    );
    let problem = assert_rejected(&app, "/api/v1/orders?expand=items", "expand").await;
    assert!(hint(&problem).contains("customer"), "{problem}");
    assert!(
        hint(&problem).contains("order_items_via_order"),
        "{problem}"
    );
    let problem = assert_rejected(
        &app,
        "/api/v1/order_items?expand=order.customer.orders_via_customer",
        "expand",
    )
    .await;
    assert!(
        detail(&problem).contains('3') || detail(&problem).contains("three"),
        "{problem}"
    );
    assert_rejected(
        &app,
        "/api/v1/order_items?expand=product.category.products_via_category",
        "expand",
    )
    .await;
    // Not a relation; a to-many name whose field points elsewhere; a relation of the wrong level.
    assert_rejected(&app, "/api/v1/products?expand=name", "expand").await;
    assert_rejected(
        &app,
        "/api/v1/categories?expand=order_items_via_product",
        "expand",
    )
    .await;
    assert_rejected(&app, "/api/v1/order_items?expand=order.category", "expand").await;
    let problem = assert_rejected(&app, "/api/v1/categories?expand=parent", "expand").await;
    assert!(
        hint(&problem).contains("products_via_category"),
        "{problem}"
    );
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    assert_rejected(
        &app,
        &format!("/api/v1/products/{lamp}?expand=supplier"),
        "expand",
    )
    .await;
    app.stop().await;
}

const LIBRARY: &str = r#"
[collections.publishers]
fields.name = { type = "text", required = true }

[collections.authors]
fields.name = { type = "text", required = true }
fields.publisher = { type = "relation", collection = "publishers" }

[collections.posts]
fields.title = { type = "text", required = true }
fields.author = { type = "relation", collection = "authors" }
"#;

/// Statements the server ran for one GET of `path` (which must answer 200), and the body.
async fn cost(app: &TestApp, path: &str) -> (u64, Value) {
    let before = app.store.statements_executed();
    let body = get_ok(app, path).await;
    (app.store.statements_executed() - before, body)
}

#[tokio::test]
async fn expansion_costs_one_statement_per_level_whatever_the_page_size() {
    let app = spawn_app(LIBRARY).await;
    let mut publishers = Vec::new();
    for n in 0..3 {
        publishers.push(
            app.create("publishers", &json!({"name": format!("publisher {n}")}))
                .await,
        );
    }
    let mut authors = Vec::new();
    for n in 0..10 {
        let publisher = &publishers[n % 3]["id"];
        authors.push(
            app.create(
                "authors",
                &json!({"name": format!("author {n}"), "publisher": publisher}),
            )
            .await,
        );
    }
    for n in 0..30 {
        let author = &authors[n % 10]["id"];
        app.create(
            "posts",
            &json!({"title": format!("post {n}"), "author": author}),
        )
        .await;
    }

    for limit in [1, 5, 30, 100] {
        let (n, body) = cost(&app, &format!("/api/v1/posts?limit={limit}")).await;
        assert_eq!(n, 1, "a plain list is one statement");
        assert_eq!(data(&body).len(), limit.min(30));

        let (n, body) = cost(&app, &format!("/api/v1/posts?limit={limit}&expand=author")).await;
        assert_eq!(
            n, 2,
            "limit {limit}: one list, one statement for every author"
        );
        for post in data(&body) {
            assert_eq!(post["expand"]["author"]["id"], post["author"]);
        }

        let (n, body) = cost(
            &app,
            &format!("/api/v1/posts?limit={limit}&expand=author.publisher"),
        )
        .await;
        assert_eq!(n, 3, "limit {limit}: one more for the second level");
        for post in data(&body) {
            let author = &post["expand"]["author"];
            assert_eq!(author["id"], post["author"]);
            assert_eq!(author["expand"]["publisher"]["id"], author["publisher"]);
            assert!(author["expand"]["publisher"]["name"].is_string());
        }

        let (n, _) = cost(
            &app,
            &format!("/api/v1/posts?limit={limit}&expand=author&count=true"),
        )
        .await;
        assert_eq!(n, 3, "limit {limit}: count adds one");
        let (n, _) = cost(
            &app,
            &format!("/api/v1/posts?limit={limit}&expand=author.publisher&count=true"),
        )
        .await;
        assert_eq!(n, 4, "limit {limit}: count adds one");
    }

    // To many, and two relations side by side.
    let (n, body) = cost(&app, "/api/v1/authors?expand=posts_via_author").await;
    assert_eq!(n, 2);
    for author in data(&body) {
        assert_eq!(
            author["expand"]["posts_via_author"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
    }
    let (n, _) = cost(&app, "/api/v1/authors?expand=posts_via_author,publisher").await;
    assert_eq!(n, 3);
    let (n, body) = cost(
        &app,
        "/api/v1/publishers?expand=authors_via_publisher.posts_via_author",
    )
    .await;
    assert_eq!(n, 3);
    let posts: usize = data(&body)
        .iter()
        .flat_map(|p| {
            p["expand"]["authors_via_publisher"]
                .as_array()
                .expect("array")
        })
        .map(|a| {
            a["expand"]["posts_via_author"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(posts, 30, "every post appears under its author");

    // A single record.
    let post = data(&get_ok(&app, "/api/v1/posts?limit=1").await)[0]["id"].clone();
    let post = post.as_str().expect("id");
    let (n, _) = cost(
        &app,
        &format!("/api/v1/posts/{post}?expand=author.publisher"),
    )
    .await;
    assert_eq!(n, 3);
    // An empty page needs no expansion query.
    let (n, _) = cost(
        &app,
        &format!(
            "/api/v1/posts?filter={}&expand=author.publisher",
            encode(r#"title = "none""#)
        ),
    )
    .await;
    assert_eq!(n, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_to_many_expansion_is_never_silently_cut_short() {
    let app = spawn_app(LIBRARY).await;
    let prolific = app.create("authors", &json!({"name": "prolific"})).await;
    let occasional = app.create("authors", &json!({"name": "occasional"})).await;
    // 1000 posts by one author (through the batch endpoint), then 5 by the other.
    for chunk in 0..10 {
        let operations: Vec<Value> = (0..100)
            .map(|n| {
                json!({"op": "create", "collection": "posts",
                       "body": {"title": format!("post {chunk}-{n}"), "author": prolific["id"]}})
            })
            .collect();
        let response = app
            .post_json("/api/v1/batch", &json!({ "operations": operations }))
            .await;
        crate::helpers::json_with_status(response, 200).await;
    }
    for n in 0..5 {
        app.create(
            "posts",
            &json!({"title": format!("rare {n}"), "author": occasional["id"]}),
        )
        .await;
    }
    let response = app.get("/api/v1/authors?expand=posts_via_author").await;
    if response.status() == 400 {
        // Refusing an expansion too large to load whole is acceptable.
        super::support::assert_invalid_query(response, "expand").await;
    } else {
        let body = crate::helpers::json_with_status(response, 200).await;
        let counts: Vec<(String, usize)> = data(&body)
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap_or("").to_owned(),
                    a["expand"]["posts_via_author"]
                        .as_array()
                        .map_or(0, Vec::len),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [("prolific".to_owned(), 1000), ("occasional".to_owned(), 5)],
            "every author's expansion holds all of their posts"
        );
    }
    app.stop().await;
}
