//! Paths and methods: 404 for what does not exist, 400 for an id that cannot exist, 405 with
//! `Allow` for a method a route does not take.

use reqwest::Method;
use serde_json::json;

use super::support::{id_of, send_raw};
use crate::helpers::{TEST_SCHEMA, TestApp, assert_problem, spawn_app};

const MISSING_ID: &str = "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12";

async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    send_raw(app, method, path, Some("application/json"), "{}").await
}

#[tokio::test]
async fn an_unknown_collection_is_collection_not_found() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (method, path) in [
        (Method::GET, "/api/v1/nope".to_owned()),
        (Method::POST, "/api/v1/nope".to_owned()),
        (Method::GET, format!("/api/v1/nope/{MISSING_ID}")),
        (Method::PATCH, format!("/api/v1/nope/{MISSING_ID}")),
        (Method::DELETE, format!("/api/v1/nope/{MISSING_ID}")),
        // The collection is resolved before the id is read.
        (Method::GET, "/api/v1/nope/not-a-uuid".to_owned()),
        // Collection names are case-sensitive.
        (Method::GET, "/api/v1/Items".to_owned()),
    ] {
        let problem = assert_problem(
            send(&app, method.clone(), &path).await,
            404,
            "collection_not_found",
        )
        .await;
        assert!(
            problem["hint"]
                .as_str()
                .is_some_and(|h| h.contains("categories")
                    && h.contains("items")
                    && h.contains("notes")),
            "{method} {path}: the hint lists the collections: {problem}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_id_is_record_not_found() {
    let app = spawn_app(TEST_SCHEMA).await;
    // A record in another collection is not found under this one.
    let note = app.create("notes", &json!({"body": "x"})).await;
    for id in [MISSING_ID.to_owned(), id_of(&note)] {
        let path = format!("/api/v1/items/{id}");
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let problem = assert_problem(
                send(&app, method.clone(), &path).await,
                404,
                "record_not_found",
            )
            .await;
            assert!(
                problem["detail"].as_str().is_some_and(|d| d.contains(&id)),
                "{method}: {problem}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_invalid_id() {
    let app = spawn_app(TEST_SCHEMA).await;
    for id in [
        "not-a-uuid",
        "42",
        "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e1",
        "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12x",
        "%20",
    ] {
        let path = format!("/api/v1/items/{id}");
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            assert_problem(send(&app, method.clone(), &path).await, 400, "invalid_id").await;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_path_no_route_matches_is_route_not_found() {
    let app = spawn_app(TEST_SCHEMA).await;
    for path in [
        "/nope".to_owned(),
        "/".to_owned(),
        "/api".to_owned(),
        "/api/v2/items".to_owned(),
        format!("/api/v1/items/{MISSING_ID}/extra"),
        "/api/v1/items/a/b/c".to_owned(),
    ] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let problem = assert_problem(
                send(&app, method.clone(), &path).await,
                404,
                "route_not_found",
            )
            .await;
            assert_eq!(problem["errors"], json!([]), "{method} {path}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_method_not_allowed_with_allow() {
    let app = spawn_app(TEST_SCHEMA).await;
    let note = app.create("notes", &json!({"body": "x"})).await;
    let record = format!("/api/v1/notes/{}", id_of(&note));
    let collection = "/api/v1/notes".to_owned();
    for (method, path, allowed) in [
        (
            Method::PUT,
            &record,
            &["DELETE", "GET", "HEAD", "PATCH"][..],
        ),
        (
            Method::POST,
            &record,
            &["DELETE", "GET", "HEAD", "PATCH"][..],
        ),
        (Method::PUT, &collection, &["GET", "HEAD", "POST"][..]),
        (Method::PATCH, &collection, &["GET", "HEAD", "POST"][..]),
        (Method::DELETE, &collection, &["GET", "HEAD", "POST"][..]),
    ] {
        let response = send(&app, method.clone(), path).await;
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().expect("ascii allow").to_owned());
        assert_problem(response, 405, "method_not_allowed").await;
        let allow =
            allow.unwrap_or_else(|| panic!("{method} {path}: a 405 must carry an Allow header"));
        let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        methods.sort_unstable();
        assert_eq!(methods, allowed, "{method} {path}");
    }
    let list =
        crate::helpers::json_with_status(app.get("/api/v1/notes?count=true").await, 200).await;
    assert_eq!(
        list["data"],
        json!([note]),
        "no refused method changed anything"
    );
    app.stop().await;
}
