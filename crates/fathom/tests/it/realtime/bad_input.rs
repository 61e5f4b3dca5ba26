//! Every bad input gets an error frame (WebSocket) or a problem (SSE, before the stream begins)
//! with a stable code, and the connection and the server stay healthy.

use serde_json::json;

use super::support::{SCHEMA, Sse, Ws, sub, subscriptions_query, ws_with_origin};
use crate::helpers::{assert_problem, mint_user, spawn_app, spawn_app_with};

/// Asserts that the connection still answers.
async fn still_healthy(ws: &mut Ws) {
    ws.send(json!({"type": "ping"})).await;
    ws.expect("pong").await;
}

#[tokio::test]
async fn malformed_and_unknown_messages_get_error_frames_and_the_connection_goes_on() {
    let app = spawn_app(SCHEMA).await;
    let (mut ws, _) = Ws::connect(&app, Some(&app.admin_token), None, json!([])).await;
    for (text, code) in [
        ("not json", "invalid_message"),
        ("[1, 2]", "invalid_message"),
        (r#"{"no": "type"}"#, "invalid_message"),
        (r#"{"type": "dance"}"#, "invalid_message"),
        (r#"{"type": "subscribe", "id": "a"}"#, "invalid_message"),
        (
            r#"{"type": "subscribe", "id": "a", "collection": "posts", "colour": 1}"#,
            "invalid_message",
        ),
        (
            r#"{"type": "subscribe", "id": "", "collection": "posts"}"#,
            "invalid_message",
        ),
        (
            r#"{"type": "subscribe", "id": "a", "collection": "posts", "snapshot": {"limit": 0}}"#,
            "invalid_message",
        ),
        (
            r#"{"type": "subscribe", "id": "a", "collection": "posts", "snapshot": {"limit": 1001}}"#,
            "invalid_message",
        ),
        (r#"{"type": "unsubscribe", "id": 7}"#, "invalid_message"),
        (r#"{"type": "auth", "resume": 3}"#, "invalid_message"),
    ] {
        ws.send_text(text).await;
        let error = ws.expect("error").await;
        assert_eq!(error["code"], code, "{text}: {error}");
        assert!(
            error["detail"].is_string() && error["hint"].is_string(),
            "{error}"
        );
        still_healthy(&mut ws).await;
    }
}

#[tokio::test]
async fn binary_and_oversized_frames_get_error_frames() {
    let app = spawn_app_with(SCHEMA, |c| c.realtime.max_message_bytes = 1024).await;
    let (mut ws, _) = Ws::connect(&app, None, None, json!([])).await;
    ws.send_binary(b"\x00\x01").await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "unsupported_frame", "{error}");
    still_healthy(&mut ws).await;
    let filter = "n = 1 || ".repeat(200) + "n = 2";
    ws.send(json!({"type": "subscribe", "id": "a", "collection": "posts", "filter": filter}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "message_too_large", "{error}");
    still_healthy(&mut ws).await;
}

#[tokio::test]
async fn subscriptions_are_checked_like_list_requests() {
    let app = spawn_app(SCHEMA).await;
    let (_, user) = mint_user(&app.store, &app.auth, "u@example.com", &["user"]).await;
    let (mut ws, _) = Ws::connect(&app, Some(&user), None, json!([])).await;
    for (subscription, code) in [
        (
            json!({"id": "a", "collection": "nope"}),
            "collection_not_found",
        ),
        (
            json!({"id": "a", "collection": "notes", "filter": "secret = \"x\""}),
            "invalid_query",
        ),
        (
            json!({"id": "a", "collection": "notes", "filter": "body = "}),
            "invalid_query",
        ),
        (
            json!({"id": "a", "collection": "notes", "filter": "missing = 1"}),
            "invalid_query",
        ),
        (
            json!({"id": "a", "collection": "notes", "fields": ["secret"]}),
            "invalid_query",
        ),
        (
            json!({"id": "a", "collection": "notes", "fields": ["nope"]}),
            "invalid_query",
        ),
    ] {
        let mut message = subscription.clone();
        message["type"] = json!("subscribe");
        ws.send(message).await;
        let error = ws.expect("error").await;
        assert_eq!(error["code"], code, "{subscription}: {error}");
        assert_eq!(error["sub"], "a", "{error}");
        still_healthy(&mut ws).await;
    }
}

#[tokio::test]
async fn subscription_ids_are_unique_and_their_number_is_capped() {
    let app = spawn_app_with(SCHEMA, |c| c.realtime.max_subscriptions = 2).await;
    let (mut ws, _) = Ws::connect(&app, None, None, json!([sub("a", "posts")])).await;
    ws.expect("subscribed").await;
    ws.send(json!({"type": "subscribe", "id": "a", "collection": "posts"}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "subscription_exists");
    ws.send(json!({"type": "subscribe", "id": "b", "collection": "posts"}))
        .await;
    assert_eq!(ws.expect("subscribed").await["sub"], "b");
    ws.send(json!({"type": "subscribe", "id": "c", "collection": "posts"}))
        .await;
    let error = ws.expect("error").await;
    assert_eq!(error["code"], "too_many_subscriptions", "{error}");
    ws.send(json!({"type": "unsubscribe", "id": "zzz"})).await;
    assert_eq!(ws.expect("error").await["code"], "subscription_not_found");
    ws.send(json!({"type": "unsubscribe", "id": "a"})).await;
    assert_eq!(ws.expect("unsubscribed").await["sub"], "a");
    ws.send(json!({"type": "subscribe", "id": "c", "collection": "posts"}))
        .await;
    assert_eq!(ws.expect("subscribed").await["sub"], "c");
}

#[tokio::test]
async fn a_resume_point_from_the_future_is_refused() {
    let app = spawn_app(SCHEMA).await;
    let mut ws = Ws::open(&app).await;
    ws.send(json!({"type": "auth", "resume": 1_000_000})).await;
    let closing = ws.expect("closing").await;
    assert_eq!(closing["code"], "resume_from_future", "{closing}");
    assert!(ws.closed().await);
    let response = Sse::request(
        &app,
        &subscriptions_query(&json!([])),
        None,
        Some(1_000_000),
    )
    .await;
    assert_problem(response, 400, "resume_from_future").await;
    let response = Sse::request(&app, "resume=-4", None, None).await;
    assert_problem(response, 400, "invalid_query").await;
}

#[tokio::test]
async fn sse_refuses_bad_parameters_before_the_stream_begins() {
    let app = spawn_app(SCHEMA).await;
    let response = Sse::request(&app, "access_token=abc", None, None).await;
    assert_problem(response, 400, "invalid_query").await;
    let response = Sse::request(&app, "subscriptions=%7Bnope", None, None).await;
    assert_problem(response, 400, "invalid_message").await;
    let query = subscriptions_query(&json!([sub("a", "nope")]));
    assert_problem(
        Sse::request(&app, &query, None, None).await,
        404,
        "collection_not_found",
    )
    .await;
    let query = subscriptions_query(&json!([sub("a", "posts"), sub("a", "posts")]));
    assert_problem(
        Sse::request(&app, &query, None, None).await,
        409,
        "subscription_exists",
    )
    .await;
    let query = subscriptions_query(&json!([sub("a", "posts")]));
    let response = Sse::request(&app, &query, Some("not a token"), None).await;
    assert_problem(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn websocket_upgrades_check_the_origin() {
    let app = spawn_app(SCHEMA).await;
    assert_eq!(
        ws_with_origin(&app, "https://evil.example").await.err(),
        Some(403)
    );
    let own = format!("http://{}", app.address);
    assert!(
        ws_with_origin(&app, &own).await.is_ok(),
        "the server's own origin"
    );
    let allowed = spawn_app_with(SCHEMA, |c| {
        c.server.cors_origins = vec!["https://app.example".into()];
    })
    .await;
    assert!(
        ws_with_origin(&allowed, "https://app.example")
            .await
            .is_ok()
    );
    assert_eq!(
        ws_with_origin(&allowed, "https://evil.example").await.err(),
        Some(403)
    );
}

#[tokio::test]
async fn requests_that_are_not_a_websocket_handshake_are_told_to_upgrade() {
    let app = spawn_app(SCHEMA).await;
    let url = app.url("/api/v1/realtime/ws");
    let plain = app.client.get(&url).send().await.expect("request");
    assert_problem(plain, 426, "upgrade_required").await;
    // Each handshake lacks one thing RFC 6455 asks for.
    let complete = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let flawed: [(&str, Option<&str>); 4] = [
        ("connection", Some("keep-alive")),
        ("upgrade", Some("h2c")),
        ("sec-websocket-version", Some("8")),
        ("sec-websocket-key", None),
    ];
    for (name, value) in flawed {
        let mut request = app.client.get(&url);
        for (header, good) in complete {
            match (header == name, value) {
                (false, _) => request = request.header(header, good),
                (true, Some(bad)) => request = request.header(header, bad),
                (true, None) => {}
            }
        }
        let response = request.send().await.expect("request");
        assert_problem(response, 426, "upgrade_required").await;
    }
    // The server is unharmed, and a complete handshake still opens a socket.
    let mut ws = Ws::open(&app).await;
    ws.send(json!({"type": "auth"})).await;
    ws.expect("ready").await;
}

#[tokio::test]
async fn the_first_message_must_be_auth() {
    let app = spawn_app(SCHEMA).await;
    let mut ws = Ws::open(&app).await;
    ws.send(json!({"type": "subscribe", "id": "a", "collection": "posts"}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "unauthorized");
    ws.send_binary(b"x").await;
    assert_eq!(ws.expect("error").await["code"], "unsupported_frame");
    ws.send(json!({"type": "auth"})).await;
    ws.expect("ready").await;
    let mut bad = Ws::open(&app).await;
    bad.send(json!({"type": "auth", "token": "not a token"}))
        .await;
    let closing = bad.expect("closing").await;
    assert_eq!(closing["code"], "unauthorized", "{closing}");
    assert!(bad.closed().await);
}

#[tokio::test]
async fn a_node_holds_at_most_its_configured_connections() {
    let app = spawn_app_with(SCHEMA, |c| c.realtime.max_connections = 2).await;
    let (_first, _) = Ws::connect(&app, None, None, json!([])).await;
    let (_second, _) = Sse::open(&app, &json!([]), None, None).await;
    let refused = Sse::request(&app, "", None, None).await;
    assert_problem(refused, 503, "service_unavailable").await;
    let url = super::support::ws_url(&app);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected a 503 refusal, got {:?}", other.map(|_| ())),
    }
}
