//! `/metrics`: off unless configured; on its own listener or behind a bearer token; after a
//! known workload the exposition holds exactly its counts, labelled by route template and never
//! by raw path.

use serde_json::json;

use super::exposition::Exposition;
use crate::helpers::{
    TEST_ADMIN, TEST_ADMIN_PASSWORD, TEST_SCHEMA, TestApp, assert_problem, on_postgres, spawn_app,
    spawn_app_with,
};
use crate::realtime::support::{Ws, sub};

const TOKEN: &str = "metrics-token-for-tests-0123456789";

pub(crate) async fn scrape(app: &TestApp) -> (String, Exposition) {
    let address = app.metrics_address.expect("a metrics listener");
    let response = app
        .anonymous
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let parsed = Exposition::parse(&text);
    (text, parsed)
}

const DURATION: &str = "http_server_request_duration_seconds_count";

fn requests(exposition: &Exposition, method: &str, route: &str, class: &str) -> f64 {
    exposition.value_or_zero(
        DURATION,
        &[
            ("http_request_method", method),
            ("http_route", route),
            ("http_response_status_class", class),
        ],
    )
}

async fn login(app: &TestApp, password: &str) -> u16 {
    app.anonymous
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": TEST_ADMIN, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn there_is_no_metrics_endpoint_unless_configured() {
    let app = spawn_app(TEST_SCHEMA).await;
    assert!(app.metrics_address.is_none());
    assert_problem(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        404,
        "route_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_known_workload_is_counted_exactly_in_the_exposition() {
    let app = spawn_app_with(TEST_SCHEMA, |c| {
        c.metrics.listen = Some("127.0.0.1:0".into())
    })
    .await;
    // The metrics listener serves metrics only; the main one has no /metrics in this mode.
    assert_problem(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        404,
        "route_not_found",
    )
    .await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            app.create("notes", &json!({"body": format!("note {n}")}))
                .await["id"]
                .clone(),
        );
    }
    for id in &ids[..2] {
        let response = app
            .get(&format!("/api/v1/notes/{}", id.as_str().unwrap()))
            .await;
        assert_eq!(response.status(), 200);
    }
    let missing = uuid::Uuid::now_v7();
    assert_eq!(
        app.get(&format!("/api/v1/notes/{missing}")).await.status(),
        404
    );
    assert_eq!(login(&app, "not the password at all").await, 401);
    assert_eq!(login(&app, "still not the password").await, 401);
    assert_eq!(login(&app, TEST_ADMIN_PASSWORD).await, 200);

    let (text, metrics) = scrape(&app).await;
    assert_eq!(
        metrics.types["http_server_request_duration_seconds"], "histogram",
        "{text}"
    );
    assert_eq!(
        requests(&metrics, "POST", "/api/v1/{collection}", "2xx"),
        3.0,
        "{text}"
    );
    assert_eq!(
        requests(&metrics, "GET", "/api/v1/{collection}/{id}", "2xx"),
        2.0,
        "{text}"
    );
    assert_eq!(
        requests(&metrics, "GET", "/api/v1/{collection}/{id}", "4xx"),
        1.0,
        "{text}"
    );
    assert_eq!(
        requests(&metrics, "POST", "/api/v1/auth/login", "4xx"),
        2.0,
        "{text}"
    );
    assert_eq!(
        requests(&metrics, "POST", "/api/v1/auth/login", "2xx"),
        1.0,
        "{text}"
    );
    // The refused /metrics matched no route: one series for every unknown path.
    assert_eq!(requests(&metrics, "GET", "unmatched", "4xx"), 1.0, "{text}");
    // The +Inf bucket holds every request; the sum is a positive number of seconds.
    let inf = metrics.value(
        "http_server_request_duration_seconds_bucket",
        &[
            ("http_request_method", "POST"),
            ("http_route", "/api/v1/{collection}"),
            ("le", "+Inf"),
        ],
    );
    assert_eq!(inf, 3.0);
    let sum = metrics.value(
        "http_server_request_duration_seconds_sum",
        &[
            ("http_request_method", "POST"),
            ("http_route", "/api/v1/{collection}"),
        ],
    );
    assert!(sum > 0.0 && sum < 30.0, "{sum}");
    // Labels are route templates: no record id, no query string.
    for id in ids.iter().chain([&json!(missing.to_string())]) {
        assert!(
            !text.contains(id.as_str().unwrap()),
            "a raw path leaked into a label: {text}"
        );
    }
    assert_eq!(metrics.value("http_server_active_requests", &[]), 0.0);
    assert_eq!(
        metrics.value("fathom_auth_sign_ins_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        metrics.value("fathom_auth_sign_ins_total", &[("outcome", "failure")]),
        2.0
    );
    assert_eq!(
        metrics.value("fathom_auth_sign_ins_total", &[("outcome", "locked_out")]),
        0.0
    );
    assert_eq!(
        metrics.value(
            "fathom_rate_limit_rejections_total",
            &[("policy", "auth_login")]
        ),
        0.0
    );
    if on_postgres() {
        assert_eq!(
            metrics.value("db_client_connection_max", &[]),
            16.0,
            "{text}"
        );
        let open: f64 = metrics
            .matching("db_client_connection_count", &[])
            .map(|s| s.value)
            .sum();
        assert!(open >= 1.0, "{text}");
        assert_eq!(
            metrics.value("db_client_connection_pending_requests", &[]),
            0.0
        );
    } else {
        // Three creates, a login's bookkeeping and the test administrator's set-up: every
        // write went through a group commit.
        let groups = metrics.value("fathom_db_group_commit_size_count", &[]);
        let jobs = metrics.value("fathom_db_group_commit_size_sum", &[]);
        assert!(groups >= 1.0 && jobs >= 4.0 && jobs >= groups, "{text}");
        assert_eq!(
            metrics.value("fathom_db_group_commit_duration_seconds_count", &[]),
            groups
        );
        assert_eq!(metrics.value("fathom_db_writer_queue_depth", &[]), 0.0);
    }
}

#[tokio::test]
async fn realtime_connections_subscriptions_and_deliveries_are_counted() {
    let app = spawn_app_with(TEST_SCHEMA, |c| {
        c.metrics.listen = Some("127.0.0.1:0".into())
    })
    .await;
    let (mut ws, _) = Ws::connect(
        &app,
        Some(&app.admin_token),
        None,
        json!([sub("a", "notes"), sub("b", "notes")]),
    )
    .await;
    ws.expect("subscribed").await;
    ws.expect("subscribed").await;
    app.create("notes", &json!({"body": "one"})).await;
    app.create("notes", &json!({"body": "two"})).await;
    ws.expect("event").await;
    ws.expect("event").await;
    let (text, metrics) = scrape(&app).await;
    assert_eq!(
        metrics.value("fathom_realtime_connections", &[]),
        1.0,
        "{text}"
    );
    assert_eq!(
        metrics.value("fathom_realtime_subscriptions", &[]),
        2.0,
        "{text}"
    );
    assert_eq!(
        metrics.value("fathom_realtime_events_total", &[("outcome", "delivered")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        metrics.value("fathom_realtime_events_total", &[("outcome", "dropped")]),
        0.0
    );
    assert_eq!(
        metrics.value("fathom_outbox_lag_events", &[("consumer", "realtime")]),
        0.0,
        "{text}"
    );
    ws.send(json!({"type": "unsubscribe", "id": "a"})).await;
    ws.expect("unsubscribed").await;
    let (_, metrics) = scrape(&app).await;
    assert_eq!(metrics.value("fathom_realtime_subscriptions", &[]), 1.0);
    drop(ws);
    // The server notices the closed socket on its next read.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, metrics) = scrape(&app).await;
        if metrics.value("fathom_realtime_connections", &[]) == 0.0 {
            assert_eq!(metrics.value("fathom_realtime_subscriptions", &[]), 0.0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection is never forgotten"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn on_the_main_listener_metrics_need_the_token() {
    let app = spawn_app_with(TEST_SCHEMA, |c| {
        c.metrics.token = Some(fathom::config::Secret::new(TOKEN));
    })
    .await;
    assert!(app.metrics_address.is_none());
    let url = app.url("/metrics");
    let none = app.anonymous.get(&url).send().await.unwrap();
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"metrics\""
    );
    assert_problem(none, 401, "unauthorized").await;
    // A user's access token is not the metrics token.
    assert_problem(
        app.client.get(&url).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let wrong = app
        .anonymous
        .get(&url)
        .bearer_auth(format!("{TOKEN}x"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, "unauthorized").await;
    let response = app
        .anonymous
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let metrics = Exposition::parse(&response.text().await.unwrap());
    assert_eq!(requests(&metrics, "GET", "/metrics", "4xx"), 3.0);
    // The document describes the route it serves.
    let document: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(document["paths"]["/metrics"]["get"].is_object());
}
