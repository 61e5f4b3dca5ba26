//! Response headers: the request id, security headers on every response, HSTS, and CORS.

use reqwest::Method;
use serde_json::json;

use super::support::id_of;
use crate::helpers::{
    TEST_SCHEMA, TestApp, assert_problem, json_with_status, spawn_app, spawn_app_with,
};

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii header").to_owned())
}

/// Whether `id` looks like a generated request id (a UUID without hyphens).
fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && uuid::Uuid::parse_str(id).is_ok()
}

#[tokio::test]
async fn a_well_formed_request_id_is_echoed_in_the_header_and_the_body() {
    let app = spawn_app(TEST_SCHEMA).await;
    let post = app
        .client
        .post(app.url("/api/v1/notes"))
        .header("x-request-id", "test-123")
        .json(&json!({"body": "x"}));
    let response = post.send().await.expect("sent");
    assert_eq!(
        header(&response, "x-request-id").as_deref(),
        Some("test-123")
    );
    let created = json_with_status(response, 201).await;
    assert_eq!(created["meta"]["requestId"], "test-123");

    let get = app
        .client
        .get(app.url("/api/v1/notes?limit=1"))
        .header("x-request-id", "abc_DEF.42");
    let response = get.send().await.expect("sent");
    assert_eq!(
        header(&response, "x-request-id").as_deref(),
        Some("abc_DEF.42")
    );
    assert_eq!(
        json_with_status(response, 200).await["meta"]["requestId"],
        "abc_DEF.42"
    );

    let path = format!("/api/v1/notes/{}", id_of(&created["data"]));
    let delete = app
        .client
        .delete(app.url(&path))
        .header("x-request-id", "delete-1")
        .send()
        .await
        .expect("sent");
    assert_eq!(delete.status(), 204);
    assert_eq!(header(&delete, "x-request-id").as_deref(), Some("delete-1"));

    // A problem carries it too (assert_problem checks body against header).
    let missing = app
        .client
        .get(app.url(&path))
        .header("x-request-id", "test-123")
        .send()
        .await
        .expect("sent");
    let problem = assert_problem(missing, 404, "record_not_found").await;
    assert_eq!(problem["requestId"], "test-123");
    let unrouted = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "test-456")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        assert_problem(unrouted, 404, "route_not_found").await["requestId"],
        "test-456"
    );

    let longest = "a".repeat(128);
    let response = app
        .client
        .get(app.url("/api/v1/notes"))
        .header("x-request-id", &longest)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        header(&response, "x-request-id"),
        Some(longest),
        "128 characters are still accepted"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_request_id_is_replaced_by_a_generated_one() {
    let app = spawn_app(TEST_SCHEMA).await;
    for incoming in [
        "has spaces",
        &"a".repeat(200),
        &"b".repeat(129),
        "semi;colon",
        "new\tline",
        "<script>",
        "ünï",
        "",
    ] {
        let Ok(value) = reqwest::header::HeaderValue::from_bytes(incoming.as_bytes()) else {
            panic!("{incoming:?} is a sendable header value");
        };
        let post = app
            .client
            .post(app.url("/api/v1/notes"))
            .header("x-request-id", value.clone())
            .json(&json!({"body": "x"}));
        let response = post.send().await.expect("sent");
        let id = header(&response, "x-request-id").expect("a request id is always sent");
        assert_ne!(id, incoming);
        assert!(is_generated(&id), "{incoming:?} was replaced by {id:?}");
        assert_eq!(
            json_with_status(response, 201).await["meta"]["requestId"],
            id.as_str()
        );

        let problem_response = app
            .client
            .get(app.url("/nope"))
            .header("x-request-id", value)
            .send()
            .await
            .expect("sent");
        let id = header(&problem_response, "x-request-id").expect("request id");
        assert!(is_generated(&id), "{incoming:?} was replaced by {id:?}");
        assert_problem(problem_response, 404, "route_not_found").await;
    }
    // Without the header, every request gets its own id.
    let first = header(&app.get("/api/v1/notes").await, "x-request-id").expect("id");
    let second = header(&app.get("/api/v1/notes").await, "x-request-id").expect("id");
    assert!(is_generated(&first) && is_generated(&second));
    assert_ne!(first, second);
    app.stop().await;
}

/// Asserts the security headers every response carries.
fn assert_security_headers(response: &reqwest::Response, hsts: bool, what: &str) {
    assert_eq!(
        header(response, "x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(response, "x-frame-options").as_deref(),
        Some("DENY"),
        "{what}"
    );
    assert_eq!(
        header(response, "referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    let sts = header(response, "strict-transport-security");
    if hsts {
        let sts = sts.unwrap_or_else(|| panic!("{what}: HSTS is on but the header is missing"));
        assert!(
            sts.starts_with("max-age=") && sts.contains("max-age=31536000"),
            "{what}: {sts}"
        );
    } else {
        assert_eq!(sts, None, "{what}: no HSTS by default");
    }
}

/// One response of each kind: success, created, no content, and several problems.
async fn sample_responses(app: &TestApp) -> Vec<(String, reqwest::Response)> {
    let note = app.create("notes", &json!({"body": "x"})).await;
    let path = format!("/api/v1/notes/{}", id_of(&note));
    let plain = app
        .client
        .post(app.url("/api/v1/notes"))
        .body("x")
        .send()
        .await
        .expect("sent");
    let put = app.client.put(app.url(&path)).send().await.expect("sent");
    let too_large = app
        .post_json("/api/v1/notes", &json!({"body": "x".repeat(1024 * 1024)}))
        .await;
    let too_deep = super::support::post_raw(app, "/api/v1/notes", "[".repeat(100)).await;
    vec![
        ("list".into(), app.get("/api/v1/notes").await),
        ("get".into(), app.get(&path).await),
        (
            "create".into(),
            app.post_json("/api/v1/notes", &json!({"body": "y"})).await,
        ),
        (
            "validation".into(),
            app.post_json("/api/v1/notes", &json!({})).await,
        ),
        ("unsupported media type".into(), plain),
        ("method not allowed".into(), put),
        ("payload too large".into(), too_large),
        ("json too deep".into(), too_deep),
        ("invalid id".into(), app.get("/api/v1/notes/zzz").await),
        ("route not found".into(), app.get("/nope").await),
        ("health".into(), app.get("/health").await),
        ("delete".into(), app.delete(&path).await),
        ("record not found".into(), app.get(&path).await),
    ]
}

#[tokio::test]
async fn security_headers_are_on_every_response_without_hsts_by_default() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (what, response) in sample_responses(&app).await {
        assert_security_headers(&response, false, &what);
    }
    app.stop().await;
}

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    let app = spawn_app_with(TEST_SCHEMA, |config| config.server.hsts = true).await;
    for (what, response) in sample_responses(&app).await {
        assert_security_headers(&response, true, &what);
    }
    app.stop().await;
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/v1/notes"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn cross_origin_requests_get_no_cors_headers_by_default() {
    let app = spawn_app(TEST_SCHEMA).await;
    let response = app
        .client
        .get(app.url("/api/v1/notes"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status(),
        200,
        "the server still answers; the browser withholds it"
    );
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-allow-credentials"), None);

    let response = preflight(&app, "https://evil.example").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(header(&response, "access-control-allow-methods"), None);
    app.stop().await;
}

#[tokio::test]
async fn a_configured_origin_passes_preflight_and_others_do_not() {
    let app = spawn_app_with(TEST_SCHEMA, |config| {
        config.server.cors_origins = vec!["https://app.example".into()]
    })
    .await;
    let allowed = preflight(&app, "https://app.example").await;
    assert!(
        allowed.status().is_success(),
        "preflight status {}",
        allowed.status()
    );
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let methods = header(&allowed, "access-control-allow-methods").expect("allowed methods");
    assert!(
        methods.split(',').any(|m| m.trim() == "POST"),
        "allow-methods {methods}"
    );
    let headers = header(&allowed, "access-control-allow-headers")
        .expect("allowed headers")
        .to_ascii_lowercase();
    assert!(
        headers.split(',').any(|h| h.trim() == "content-type"),
        "allow-headers {headers}"
    );
    assert_security_headers(&allowed, false, "preflight");

    for other in [
        "https://evil.example",
        "http://app.example",
        "https://app.example.evil.example",
        "null",
    ] {
        let refused = preflight(&app, other).await;
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            None,
            "origin {other}"
        );
    }

    // An actual request from the allowed origin carries the header and exposes the request id.
    let post = app
        .client
        .post(app.url("/api/v1/notes"))
        .header("origin", "https://app.example")
        .json(&json!({"body": "x"}));
    let response = post.send().await.expect("sent");
    assert_eq!(response.status(), 201);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let exposed = header(&response, "access-control-expose-headers")
        .expect("exposed headers")
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("location"),
        "expose-headers {exposed}"
    );

    let response = app
        .client
        .get(app.url("/api/v1/notes"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    app.stop().await;
}
