//! Custom routes: they see the caller through the same `Principal` extractor, answer errors as
//! problem+json, are rate limited in their route class, appear in the OpenAPI document, and a
//! path that collides with Fathom's own or a collection's is refused when the server is built.

use axum::Json;
use axum::extract::Path;
use axum::routing::{get, post};
use fathom::{ApiError, JsonObject, OperationDoc, Principal};
use fathom_core::ErrorCode;
use serde_json::{Value, json};

use super::support::spawn_built;
use crate::helpers::{TEST_SCHEMA, assert_problem, json_with_status, test_config};

/// Who is calling, as the route sees it.
async fn whoami(caller: Principal) -> Json<Value> {
    let who = match &caller {
        Principal::Anonymous => "anonymous".to_owned(),
        Principal::Admin(_) => "admin".to_owned(),
        Principal::User(user) => format!("user {}", user.user_id),
        Principal::Service(_) => "service".to_owned(),
    };
    Json(json!({ "caller": who }))
}

/// Refuses every quantity over 10 with a problem of its own.
async fn reserve(
    Path(sku): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let quantity = body.get("quantity").and_then(Value::as_i64).unwrap_or(0);
    if quantity > 10 {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            format!("{quantity} of {sku} is more than one order may reserve."),
            "Reserve 10 at most.",
        ));
    }
    Ok(Json(json!({ "sku": sku, "reserved": quantity })))
}

fn with_routes(builder: fathom::FathomBuilder) -> fathom::FathomBuilder {
    builder
        .route(
            "/api/v1/shop/whoami",
            get(whoami),
            OperationDoc::get("Who is calling")
                .tag("Shop")
                .response(200, "The caller.", Some(json!({ "type": "object" }))),
        )
        .route(
            "/api/v1/shop/stock/{sku}/reserve",
            post(reserve),
            OperationDoc::post("Reserve stock")
                .tag("Shop")
                .request(json!({ "type": "object", "properties": { "quantity": { "type": "integer" } } }))
                .response(200, "Reserved.", None)
                .problems(&[400, 415]),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_route_sees_the_caller_and_answers_problems() {
    let app = spawn_built(TEST_SCHEMA, |_| {}, with_routes).await;
    let body = json_with_status(app.get("/api/v1/shop/whoami").await, 200).await;
    assert_eq!(body["caller"], "admin");
    let anonymous = app
        .anonymous
        .get(app.url("/api/v1/shop/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(anonymous, 200).await["caller"], "anonymous");
    let forged = app
        .anonymous
        .get(app.url("/api/v1/shop/whoami"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_problem(forged, 401, "unauthorized").await;

    let reserved = app
        .post_json("/api/v1/shop/stock/ABC-1/reserve", &json!({ "quantity": 3 }))
        .await;
    assert_eq!(
        json_with_status(reserved, 200).await,
        json!({ "sku": "ABC-1", "reserved": 3 })
    );
    let refused = app
        .post_json("/api/v1/shop/stock/ABC-1/reserve", &json!({ "quantity": 30 }))
        .await;
    let problem = assert_problem(refused, 400, "validation_failed").await;
    assert_eq!(problem["hint"], "Reserve 10 at most.");
    let not_json = app
        .client
        .post(app.url("/api/v1/shop/stock/ABC-1/reserve"))
        .body("quantity=3")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 415, "unsupported_media_type").await;
    let wrong_method = app.delete("/api/v1/shop/whoami").await;
    assert_problem(wrong_method, 405, "method_not_allowed").await;

    let document = json_with_status(app.get("/api/v1/openapi.json").await, 200).await;
    let operation = &document["paths"]["/api/v1/shop/whoami"]["get"];
    assert_eq!(operation["summary"], "Who is calling");
    assert_eq!(operation["tags"], json!(["Shop"]));
    assert!(operation["responses"]["429"].is_object(), "{operation}");
    let reserve = &document["paths"]["/api/v1/shop/stock/{sku}/reserve"]["post"];
    assert_eq!(reserve["parameters"][0]["name"], "sku");
    assert!(reserve["requestBody"]["content"]["application/json"].is_object());
    assert!(reserve["responses"]["415"].is_object());
    assert!(
        document["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Shop")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_route_is_rate_limited_in_its_class() {
    let app = spawn_built(
        TEST_SCHEMA,
        |c| c.rate_limits.anonymous.read = Some("3/min".into()),
        with_routes,
    )
    .await;
    for _ in 0..3 {
        let ok = app
            .anonymous
            .get(app.url("/api/v1/shop/whoami"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().contains_key("ratelimit-policy"));
    }
    let refused = app
        .anonymous
        .get(app.url("/api/v1/shop/whoami"))
        .send()
        .await
        .unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    let problem = assert_problem(refused, 429, "too_many_requests").await;
    assert!(problem["detail"].as_str().unwrap().contains("anonymous.read"));
}

#[tokio::test]
async fn colliding_paths_are_refused_when_the_server_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let schema = fathom_schema::parse_schema("t", TEST_SCHEMA).unwrap();
    let doc = || OperationDoc::get("x");
    let handler = || get(|| async { "" });
    let error = fathom::Fathom::builder()
        .config(test_config(dir.path()))
        .schema(schema)
        .route("/api/v1/notes/summary", handler(), doc())
        .route("/api/v1/auth/extra", handler(), doc())
        .route("/shop", handler(), doc())
        .route("/api/v1/shop/{a}", handler(), doc())
        .route("/api/v1/shop/{b}", handler(), doc())
        .build()
        .await
        .err()
        .expect("the build is refused");
    let message = error.to_string();
    for expected in [
        "`/api/v1/notes/summary` collides with the collection `notes`",
        "`/api/v1/auth/extra` collides with Fathom's own `/api/v1/auth`",
        "`/shop` must live under `/api/v1/`",
        "`/api/v1/shop/{b}` is added twice",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from {message}");
    }
    // Nothing was opened: the data directory holds no database.
    assert!(!dir.path().join("fathom.db").exists());
}
