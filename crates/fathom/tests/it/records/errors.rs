//! Bodies that are not a JSON object, wrong media types, and bad list queries.

use reqwest::Method;
use serde_json::json;

use super::support::{field_errors, id_of, pairs, post_raw, send_raw};
use crate::helpers::{TEST_SCHEMA, assert_problem, json_with_status, spawn_app};

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_malformed_json() {
    let app = spawn_app(TEST_SCHEMA).await;
    let record = app.create("notes", &json!({"body": "x"})).await;
    let record_path = format!("/api/v1/notes/{}", id_of(&record));
    for body in [
        "{",
        "{\"body\": }",
        "{\"body\": \"x\",}",
        "",
        "   ",
        "[1, 2]",
        "\"x\"",
        "null",
        "42",
        "true",
        "{} {}",
        "{\"body\": 'x'}",
    ] {
        let problem = assert_problem(
            post_raw(&app, "/api/v1/notes", body).await,
            400,
            "malformed_json",
        )
        .await;
        assert_eq!(problem["errors"], json!([]), "body {body:?}");
        let response = send_raw(
            &app,
            Method::PATCH,
            &record_path,
            Some("application/json"),
            body,
        )
        .await;
        assert_problem(response, 400, "malformed_json").await;
    }
    let invalid_utf8: &'static [u8] = b"{\"body\": \"\xff\xfe\"}";
    assert_problem(
        post_raw(&app, "/api/v1/notes", invalid_utf8).await,
        400,
        "malformed_json",
    )
    .await;

    let list = json_with_status(app.get("/api/v1/notes?count=true").await, 200).await;
    assert_eq!(list["meta"]["page"]["total"], 1, "nothing was created");
    assert_eq!(
        json_with_status(app.get(&record_path).await, 200).await["data"],
        record,
        "nothing was changed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_unsupported_media_type() {
    let app = spawn_app(TEST_SCHEMA).await;
    let record = app.create("notes", &json!({"body": "x"})).await;
    let record_path = format!("/api/v1/notes/{}", id_of(&record));
    let body = r#"{"body": "y"}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("text/json"),
        Some(""),
    ] {
        let response = send_raw(&app, Method::POST, "/api/v1/notes", content_type, body).await;
        assert_problem(response, 415, "unsupported_media_type").await;
        let response = send_raw(&app, Method::PATCH, &record_path, content_type, body).await;
        assert_problem(response, 415, "unsupported_media_type").await;
    }
    // Parameters and letter case of the media type do not matter.
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let response = send_raw(
            &app,
            Method::POST,
            "/api/v1/notes",
            Some(content_type),
            body,
        )
        .await;
        assert_eq!(
            json_with_status(response, 201).await["data"]["body"],
            "y",
            "{content_type}"
        );
    }
    assert_eq!(
        json_with_status(app.get(&record_path).await, 200).await["data"],
        record
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_list_parameters_are_invalid_query_naming_the_parameter() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("limit=1.5", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("offset=", "offset"),
        ("count=maybe", "count"),
        ("count=", "count"),
        ("count=TRUE", "count"),
        ("sort=title", "sort"),
        ("limit=5&filter=x", "filter"),
        ("Limit=5", "Limit"),
    ] {
        let problem = assert_problem(
            app.get(&format!("/api/v1/notes?{query}")).await,
            400,
            "invalid_query",
        )
        .await;
        assert_eq!(
            field_errors(&problem),
            pairs(&[(parameter, "invalid_parameter")]),
            "query {query}"
        );
    }
    // The boundaries that are accepted.
    for (query, limit) in [
        ("limit=1", 1),
        ("limit=100", 100),
        ("", 20),
        ("offset=0", 20),
    ] {
        let list = json_with_status(app.get(&format!("/api/v1/notes?{query}")).await, 200).await;
        assert_eq!(list["meta"]["page"]["limit"], limit, "query {query}");
    }
    app.stop().await;
}
