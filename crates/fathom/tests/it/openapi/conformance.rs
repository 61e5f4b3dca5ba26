//! Where the server and its OpenAPI document disagreed (issue 11, items 6, 14, 15 and 24), each
//! pinned twice: the document says it, and a real answer over HTTP fits what the document says.
//! The full property-based run is `scripts/openapi-conformance.sh`.

use serde_json::{Value, json};

use super::check::problems;
use super::{component, fetch_document};
use crate::helpers::{
    TEST_SCHEMA, assert_problem, json_with_status, mint_user, send_as, spawn_app, spawn_app_with,
    spawn_demo,
};

/// The schema of an operation's 200 answer.
fn answer_schema<'d>(document: &'d Value, path: &str, method: &str) -> &'d Value {
    &document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
}

/// The items a list parameter (`fields`, `expand`) of an operation accepts.
fn parameter_items(document: &Value, path: &str, name: &str) -> Vec<String> {
    let parameter = document["paths"][path]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path} has `{name}`"));
    assert_eq!(parameter["style"], "form", "{name} is comma-separated");
    assert_eq!(parameter["explode"], false, "{name} is comma-separated");
    parameter["schema"]["items"]["enum"]
        .as_array()
        .expect("an enum of names")
        .iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect()
}

/// Asserts that `answer` fits `schema` of `document`.
fn assert_fits(document: &Value, schema: &Value, answer: &Value, what: &str) {
    let found = problems(document, schema, answer);
    assert!(found.is_empty(), "{what}: {answer}: {found:?}");
}

#[tokio::test]
async fn answers_trimmed_by_fields_fit_the_documented_schema() {
    let demo = spawn_demo().await;
    let document = fetch_document(&demo).await;
    let list = answer_schema(&document, "/api/v1/customers", "get");
    let get = answer_schema(&document, "/api/v1/customers/{id}", "get");

    for query in [
        "fields=name",
        "fields=tenant",
        "fields=name,orders_via_customer.total",
    ] {
        let page =
            json_with_status(demo.get(&format!("/api/v1/customers?{query}")).await, 200).await;
        assert_fits(&document, list, &page, query);
        let id = page["data"][0]["id"].as_str().expect("a customer");
        let one = json_with_status(
            demo.get(&format!("/api/v1/customers/{id}?{query}")).await,
            200,
        )
        .await;
        assert_fits(&document, get, &one, query);
    }
    // Create answers whole records, and their schema still says so.
    let whole = &document["components"]["schemas"]["CustomersRecord"]["required"];
    for name in ["id", "version", "tenant", "email", "name"] {
        assert!(whole.as_array().unwrap().contains(&json!(name)), "{name}");
    }
    assert_eq!(
        document["components"]["schemas"]["CustomersSelected"]["required"],
        json!(["id"])
    );
    demo.stop().await;
}

#[tokio::test]
async fn fields_may_name_the_tenant_and_select_inside_a_relation() {
    let demo = spawn_demo().await;
    let page = json_with_status(
        demo.get("/api/v1/customers?fields=tenant&limit=1").await,
        200,
    )
    .await;
    let record = page["data"][0].as_object().expect("a customer");
    let mut keys: Vec<&str> = record.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "tenant"]);

    // `relation.field` embeds the relation as `expand` would, trimmed to the field.
    let page = json_with_status(
        demo.get("/api/v1/orders?fields=total,customer.name&limit=1")
            .await,
        200,
    )
    .await;
    let order = &page["data"][0];
    let customer = order["expand"]["customer"].as_object().expect("expanded");
    let mut keys: Vec<&str> = customer.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "name"]);
    assert!(order.get("status").is_none(), "{order}");

    // A name that is not a relation is still refused, as `fields`.
    let problem = assert_problem(
        demo.get("/api/v1/orders?fields=status.name").await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "fields");
    assert_problem(
        demo.get("/api/v1/categories?fields=tenant").await,
        400,
        "invalid_query",
    )
    .await;

    // The document lists exactly these names.
    let document = fetch_document(&demo).await;
    let fields = parameter_items(&document, "/api/v1/customers", "fields");
    for name in [
        "id",
        "created_at",
        "version",
        "tenant",
        "email",
        "orders_via_customer.total",
    ] {
        assert!(fields.contains(&name.to_owned()), "{name} in {fields:?}");
    }
    assert!(
        !parameter_items(&document, "/api/v1/categories", "fields").contains(&"tenant".to_owned())
    );
    assert_eq!(
        parameter_items(&document, "/api/v1/order_items/{id}", "expand"),
        [
            "order",
            "order.customer",
            "order.order_items_via_order",
            "product",
            "product.category",
            "product.order_items_via_product",
        ]
    );
    demo.stop().await;
}

const HIDDEN_SCHEMA: &str = r#"
[collections.notes]
rules = { list = true, view = true }
fields.body   = { type = "text", required = true }
fields.secret = { type = "text", required = true, hidden = true }
"#;

#[tokio::test]
async fn hidden_fields_are_not_required_of_records() {
    let app = spawn_app(HIDDEN_SCHEMA).await;
    let document = fetch_document(&app).await;
    for name in ["NotesRecord", "NotesSelected"] {
        let schema = &document["components"]["schemas"][name];
        assert!(
            !schema["required"]
                .as_array()
                .unwrap()
                .contains(&json!("secret")),
            "{name}: {schema}"
        );
        assert!(
            schema["properties"]["secret"]["description"]
                .as_str()
                .unwrap()
                .contains("only administrators")
        );
    }
    assert!(
        document["components"]["schemas"]["NotesRecord"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("body"))
    );

    let created = app
        .create("notes", &json!({ "body": "b", "secret": "s" }))
        .await;
    let id = created["id"].as_str().unwrap();
    let read = json_with_status(
        send_as(&app, "GET", &format!("/api/v1/notes/{id}"), None, None).await,
        200,
    )
    .await;
    assert!(read["data"].get("secret").is_none(), "{read}");
    assert_fits(
        &document,
        answer_schema(&document, "/api/v1/notes/{id}", "get"),
        &read,
        "an anonymous read",
    );
    assert_fits(
        &document,
        &component("NotesRecord"),
        &read["data"],
        "the whole record without the hidden field",
    );
    app.stop().await;
}

#[tokio::test]
async fn cursor_pages_carry_offset_and_take_the_default_offset() {
    let app = spawn_app(TEST_SCHEMA).await;
    for n in 0..3 {
        app.create("notes", &json!({ "body": format!("n{n}") }))
            .await;
    }
    let document = fetch_document(&app).await;
    let list = answer_schema(&document, "/api/v1/notes", "get");
    let first = json_with_status(app.get("/api/v1/notes?limit=2").await, 200).await;
    let next = first["meta"]["page"]["next"].as_str().expect("next");
    let second = json_with_status(
        app.get(&format!("/api/v1/notes?limit=2&offset=0&cursor={next}"))
            .await,
        200,
    )
    .await;
    assert_eq!(second["meta"]["page"]["offset"], 0, "{second}");
    assert_fits(&document, list, &second, "a cursor page");
    assert_problem(
        app.get(&format!("/api/v1/notes?limit=2&offset=1&cursor={next}"))
            .await,
        400,
        "invalid_query",
    )
    .await;

    let meta = &document["components"]["schemas"]["ListMeta"]["properties"]["page"];
    assert_eq!(meta["required"], json!(["limit", "offset", "next"]));
    assert_eq!(meta["additionalProperties"], false);
    let cursor = &document["components"]["parameters"]["Cursor"];
    assert_eq!(cursor["schema"]["minLength"], 1);
    assert!(cursor["description"].as_str().unwrap().contains("offset=0"));
    app.stop().await;
}

#[tokio::test]
async fn numbers_the_document_allows_are_taken() {
    let app = spawn_app(TEST_SCHEMA).await;
    let document = fetch_document(&app).await;
    let create = &document["components"]["schemas"]["ItemsCreate"];
    let price = &create["properties"]["price"];
    assert_eq!(
        price["pattern"], "^[0-9]+(\\.[0-9]+)?$",
        "not negative: its minimum is 0"
    );
    assert_eq!(price["maxLength"], 28);
    assert_eq!(price["minimum"], 0);
    assert_eq!(price["maximum"], 1e28);
    let qty = &create["properties"]["qty"];
    assert_eq!(
        (&qty["minimum"], &qty["maximum"]),
        (&json!(0), &json!(1000))
    );

    for (body, price, qty) in [
        (json!({ "title": "ab", "qty": 3.0 }), Value::Null, 3),
        (
            json!({ "title": "ab", "price": 1.653236621005219e-304 }),
            json!("0"),
            1,
        ),
        (json!({ "title": "ab", "price": 1e-30 }), json!("0"), 1),
        (
            json!({ "title": "ab", "price": 9.9e27 }),
            json!("9900000000000000000000000000"),
            1,
        ),
    ] {
        assert!(problems(&document, create, &body).is_empty(), "{body}");
        let created = json_with_status(app.post_json("/api/v1/items", &body).await, 201).await;
        assert_eq!(created["data"]["price"], price, "{body}");
        assert_eq!(created["data"]["qty"], qty, "{body}");
    }
    // Strings stay exact: one that would need rounding is refused.
    let body = json!({ "title": "ab", "price": "0.00000000000000000000000000001" });
    assert_problem(
        app.post_json("/api/v1/items", &body).await,
        400,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_auth_and_admin_shapes_are_the_served_ones() {
    let app = spawn_app_with(TEST_SCHEMA, |config| config.auth.password_min_length = 16).await;
    let document = fetch_document(&app).await;
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["NewPassword"]["minLength"], 16);
    assert!(
        schemas["NewPassword"]["description"]
            .as_str()
            .unwrap()
            .contains("At least 16 characters")
    );
    // Any string is taken for a reset (the answer never tells), so no email format is promised.
    assert_eq!(
        schemas["PasswordResetRequest"]["properties"]["email"].get("format"),
        None
    );
    let answer = app
        .anonymous
        .post(app.url("/api/v1/auth/password-reset"))
        .json(&json!({ "email": "0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    // Changing the password is rate limited like a login, and says so.
    let change = &document["paths"]["/api/v1/auth/password"]["post"];
    assert!(change["responses"].get("429").is_some(), "{change}");
    assert!(
        change["responses"]["429"]["headers"]
            .get("Retry-After")
            .is_some()
    );
    // The profile body is the schema's `[users]` fields, nothing else.
    let changes = &schemas["ProfileChanges"];
    assert_eq!(changes["additionalProperties"], false);
    assert_eq!(changes["properties"]["display_name"]["maxLength"], 40);
    // The batch request is `anyOf` (the variants are told apart by `op` and `collection`).
    assert!(schemas["BatchRequest"]["properties"]["operations"]["items"]["anyOf"].is_array());
    app.stop().await;

    let demo = spawn_demo().await;
    let document = fetch_document(&demo).await;
    let tenant = &document["components"]["schemas"]["CustomersCreate"]["properties"]["tenant"];
    assert_eq!(tenant["maxLength"], 128);
    // A number without bounds of its own has those of its storage.
    let quantity = &document["components"]["schemas"]["OrderItemsCreate"]["properties"]["quantity"];
    assert_eq!(
        (&quantity["minimum"], &quantity["maximum"]),
        (&json!(1), &json!(i64::MAX))
    );
    assert!(
        tenant["description"]
            .as_str()
            .unwrap()
            .contains("Administrators")
    );
    // Without `[users]` fields only the empty change is taken, and the document says so.
    assert_eq!(
        document["components"]["schemas"]["ProfileChanges"]["maxProperties"],
        0
    );
    let (_, token) = mint_user(&demo.store, &demo.auth, "member@example.com", &[]).await;
    let me = json_with_status(
        send_as(
            &demo,
            "PATCH",
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(me["data"]["email"], "member@example.com");
    assert_problem(
        send_as(
            &demo,
            "PATCH",
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({ "nickname": "x" })),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    // A mailbox recipient named twice is refused like any other stray parameter.
    assert_problem(
        demo.get("/api/v1/admin/mailbox?to=a@example.com&to=b@example.com")
            .await,
        400,
        "invalid_query",
    )
    .await;
    demo.stop().await;
}
