//! Webhooks over the real server: endpoints managed through `/api/v1/admin/webhooks`, events
//! delivered to real HTTP receivers on loopback (allow-listed) that verify the Standard
//! Webhooks signature with their own code; retries, ordering, dead letters and replay, `410`,
//! the breaker, secret rotation, and the SSRF guard (with a listener that must receive nothing).

pub mod crash;
pub mod receiver;
mod retention;
mod tenants;

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_with_status, spawn_app_with};
use receiver::Receiver;

const SCHEMA: &str = r#"
[collections.orders]
fields.total = { type = "integer", required = true }
fields.note  = { type = "text", hidden = true }

[collections.tags]
fields.name = { type = "text", required = true }
"#;

/// A server whose webhooks may reach loopback and retry quickly.
async fn app(retries: u32) -> TestApp {
    spawn_app_with(SCHEMA, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.retry_base_ms = 20;
        c.webhooks.retry_cap_secs = 1;
        c.webhooks.retries = retries;
        c.webhooks.breaker_threshold = 100;
        c.webhooks.lease_ms = 1000;
    })
    .await
}

/// Creates an endpoint through the admin API: its id and its secret (shown once).
pub async fn create_endpoint(app: &TestApp, body: Value) -> (String, String) {
    let created = json_with_status(app.post_json("/api/v1/admin/webhooks", &body).await, 201).await;
    let data = &created["data"];
    (
        data["id"].as_str().unwrap().to_owned(),
        data["secret"].as_str().unwrap().to_owned(),
    )
}

async fn attempts(app: &TestApp, id: &str) -> Vec<Value> {
    let page = json_with_status(
        app.get(&format!("/api/v1/admin/webhooks/{id}/attempts?limit=1000"))
            .await,
        200,
    )
    .await;
    page["data"].as_array().unwrap().clone()
}

async fn wait_for(mut check: impl AsyncFnMut() -> bool, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn selected_events_arrive_signed_in_order_without_hidden_fields() {
    let app = app(3).await;
    let receiver = Receiver::start().await;
    let before = app
        .create("orders", &json!({"total": 0, "note": "before"}))
        .await;
    let (id, secret) = create_endpoint(
        &app,
        json!({"url": receiver.url(), "collections": ["orders"], "operations": ["create", "update"]}),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    let shown = json_with_status(app.get(&format!("/api/v1/admin/webhooks/{id}")).await, 200).await;
    assert!(
        shown["data"].get("secret").is_none(),
        "the secret is shown once"
    );
    let mut ids = Vec::new();
    for total in 1..=5 {
        let record = app
            .create("orders", &json!({"total": total, "note": "secret"}))
            .await;
        ids.push(record["id"].as_str().unwrap().to_owned());
    }
    app.create("tags", &json!({"name": "not selected"})).await;
    let path = format!("/api/v1/orders/{}", ids[0]);
    json_with_status(app.patch_json(&path, &json!({"total": 10})).await, 200).await;
    json_with_status(app.delete(&path).await, 204).await;
    let got = receiver.wait_delivered(6, 20).await;
    assert_eq!(got.len(), 6, "5 creates and 1 update: {got:?}");
    let sequences: Vec<i64> = got.iter().map(receiver::Received::sequence).collect();
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "in sequence order: {sequences:?}"
    );
    for message in &got {
        assert!(message.signed_by(&secret), "the signature verifies");
        assert!(!message.signed_by("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        // Traces are off (no `[otel]`): no trace context leaves the server.
        assert_eq!(message.traceparent, None);
        let body = message.json();
        assert_eq!(
            body["data"]["id"].as_str().unwrap(),
            message.id,
            "webhook-id is the event id"
        );
        assert_eq!(body["data"]["collection"], "orders");
        assert!(
            body["data"]["record"].get("note").is_none(),
            "hidden fields never leave"
        );
        assert!(
            !body["data"]["changed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "note")
        );
        assert!(body["timestamp"].is_string());
        let age = time_now() - message.timestamp;
        assert!(
            (0..60).contains(&age),
            "webhook-timestamp is the attempt's time"
        );
    }
    assert_eq!(got[0].json()["type"], "orders.create");
    assert_eq!(got[5].json()["type"], "orders.update");
    assert!(
        got.iter()
            .all(|m| m.json()["data"]["record_id"] != before["id"]),
        "events before the endpoint existed are not sent"
    );
    // The attempt log shows every delivery, and the endpoint its position.
    // The log is written once the receiver has answered.
    assert!(wait_for(async || attempts(&app, &id).await.len() == 6, 10).await);
    let log = attempts(&app, &id).await;
    assert!(
        log.iter()
            .all(|a| a["status"] == 200 && a["outcome"] == "delivered")
    );
    let shown = json_with_status(app.get(&format!("/api/v1/admin/webhooks/{id}")).await, 200).await;
    assert_eq!(shown["data"]["breaker"]["state"], "closed");
}

fn time_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn failures_are_retried_in_order_and_the_log_shows_each_attempt() {
    let app = app(5).await;
    let receiver = Receiver::start().await;
    let (id, secret) = create_endpoint(&app, json!({"url": receiver.url()})).await;
    receiver.script(&[500, 503, 429]);
    for total in 1..=3 {
        app.create("orders", &json!({"total": total})).await;
    }
    let got = receiver.wait_delivered(3, 30).await;
    assert_eq!(got.len(), 3);
    let totals: Vec<i64> = got
        .iter()
        .map(|m| m.json()["data"]["record"]["total"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, [1, 2, 3], "per-endpoint order holds under retries");
    let all = receiver.received();
    assert_eq!(all.len(), 6);
    assert!(
        all[..4].iter().all(|m| m.id == all[0].id),
        "retries keep the webhook-id"
    );
    assert!(all.iter().all(|m| m.signed_by(&secret)));
    assert!(wait_for(async || attempts(&app, &id).await.len() == 6, 10).await);
    let log = attempts(&app, &id).await;
    let statuses: Vec<Value> = log.iter().rev().map(|a| a["status"].clone()).collect();
    assert_eq!(
        statuses,
        [
            json!(500),
            json!(503),
            json!(429),
            json!(200),
            json!(200),
            json!(200)
        ]
    );
    assert_eq!(log.last().unwrap()["attempt"], 1);
    assert_eq!(log[2]["attempt"], 4);
    assert_eq!(
        log.last().unwrap()["response"],
        "ok",
        "the response's first KiB is kept"
    );
}

#[tokio::test]
async fn exhausted_messages_are_dead_lettered_and_replayed() {
    let app = app(1).await;
    let receiver = Receiver::start().await;
    let (id, _) = create_endpoint(&app, json!({"url": receiver.url()})).await;
    receiver.script(&[500, 500, 500, 500]);
    app.create("orders", &json!({"total": 1})).await;
    app.create("orders", &json!({"total": 2})).await;
    let dead_path = format!("/api/v1/admin/webhooks/{id}/dead-letters");
    let dead = wait_for(
        async || {
            let page = json_with_status(app.get(&dead_path).await, 200).await;
            page["data"].as_array().unwrap().len() == 2
        },
        20,
    )
    .await;
    assert!(
        dead,
        "both messages were dead-lettered after two attempts each"
    );
    let page = json_with_status(app.get(&dead_path).await, 200).await;
    assert_eq!(page["data"][0]["attempts"], 2);
    assert_eq!(page["data"][0]["last_error"], "HTTP 500");
    // A third event gets through; then the dead letters are replayed.
    app.create("orders", &json!({"total": 3})).await;
    assert_eq!(receiver.wait_delivered(1, 20).await.len(), 1);
    let replay = format!("/api/v1/admin/webhooks/{id}/replay");
    let queued = json_with_status(
        app.post_json(&replay, &json!({"dead_letters": true})).await,
        202,
    )
    .await;
    assert_eq!(queued["data"]["queued"], 2);
    let got = receiver.wait_delivered(3, 20).await;
    let totals: Vec<i64> = got
        .iter()
        .map(|m| m.json()["data"]["record"]["total"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, [3, 1, 2]);
    let page = json_with_status(app.get(&dead_path).await, 200).await;
    assert_eq!(page["data"], json!([]));
    // One message again by its sequence, and a range.
    let seq = got[1].sequence();
    json_with_status(app.post_json(&replay, &json!({"sequence": seq})).await, 202).await;
    assert_eq!(receiver.wait_delivered(4, 20).await[3].sequence(), seq);
    // A range whose messages are no longer queued (the one just replayed may still be, for a
    // moment after its delivery).
    let range = json_with_status(
        app.post_json(
            &replay,
            &json!({"from": got[2].sequence(), "to": got[0].sequence()}),
        )
        .await,
        202,
    )
    .await;
    assert_eq!(range["data"]["queued"], 2);
    assert_eq!(receiver.wait_delivered(6, 20).await.len(), 6);
    for bad in [
        json!({}),
        json!({"from": 5, "to": 1}),
        json!({"sequence": "x"}),
        json!({"dead_letters": false}),
    ] {
        assert_problem(app.post_json(&replay, &bad).await, 400, "validation_failed").await;
    }
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_the_breaker_opens_on_failures() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.retry_base_ms = 20;
        c.webhooks.retry_cap_secs = 1;
        c.webhooks.retries = 50;
        c.webhooks.breaker_threshold = 2;
        c.webhooks.breaker_cooldown_secs = 1;
    })
    .await;
    let gone = Receiver::start().await;
    let failing = Receiver::start().await;
    let healthy = Receiver::start().await;
    let (gone_id, _) = create_endpoint(&app, json!({"url": gone.url()})).await;
    let (failing_id, _) = create_endpoint(&app, json!({"url": failing.url()})).await;
    create_endpoint(&app, json!({"url": healthy.url()})).await;
    gone.script(&[410]);
    failing.script(&[500; 6]);
    app.create("orders", &json!({"total": 1})).await;
    // A failing endpoint never delays another.
    assert_eq!(healthy.wait_delivered(1, 10).await.len(), 1);
    let path = format!("/api/v1/admin/webhooks/{gone_id}");
    assert!(
        wait_for(
            async || json_with_status(app.get(&path).await, 200).await["data"]["enabled"] == false,
            10
        )
        .await,
        "410 disables the endpoint"
    );
    let shown = json_with_status(app.get(&path).await, 200).await;
    assert!(
        shown["data"]["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    let path = format!("/api/v1/admin/webhooks/{failing_id}");
    assert!(
        wait_for(
            async || json_with_status(app.get(&path).await, 200).await["data"]["breaker"]["state"]
                == "open",
            10
        )
        .await,
        "the breaker opens after two failures"
    );
    // Half-open after the cool-down, one probe at a time; closed once the receiver recovers.
    assert_eq!(failing.wait_delivered(1, 30).await.len(), 1);
    let shown = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(shown["data"]["breaker"]["state"], "closed");
    assert!(
        wait_for(async || attempts(&app, &failing_id).await.len() == 7, 10).await,
        "six failures, then the success"
    );
    let log = attempts(&app, &failing_id).await;
    // Probes were spaced by the cool-down once the breaker opened.
    let times: Vec<i64> = log
        .iter()
        .rev()
        .map(|a| a["at_ms"].as_i64().unwrap())
        .collect();
    assert!(times[3] - times[2] >= 900, "{times:?}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_during_the_overlap() {
    let app = app(3).await;
    let receiver = Receiver::start().await;
    let (id, old) = create_endpoint(&app, json!({"url": receiver.url()})).await;
    let rotated = json_with_status(
        app.post_json(
            &format!("/api/v1/admin/webhooks/{id}/rotate-secret"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let new = rotated["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    app.create("orders", &json!({"total": 1})).await;
    let got = receiver.wait_delivered(1, 20).await;
    assert_eq!(got[0].signatures.len(), 2);
    assert!(got[0].signed_by(&new) && got[0].signed_by(&old));
    let test = json_with_status(
        app.post_json(&format!("/api/v1/admin/webhooks/{id}/test"), &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(test["data"]["delivered"], true);
    assert_eq!(
        receiver.received().last().unwrap().json()["type"],
        "webhook.test"
    );
}

#[tokio::test]
async fn bad_settings_are_refused_with_clear_codes() {
    let app = app(3).await;
    let receiver = Receiver::start().await;
    let url = receiver.url();
    for (body, code) in [
        (json!({}), "validation_failed"),
        (
            json!({"url": url, "collections": ["nope"]}),
            "validation_failed",
        ),
        (
            json!({"url": url, "operations": ["upsert"]}),
            "validation_failed",
        ),
        (json!({"url": url, "bogus": 1}), "validation_failed"),
        (
            json!({"url": url, "filter": "total > 1"}),
            "webhook_filter_invalid",
        ),
        (
            json!({"url": url, "collections": ["orders"], "filter": "total >"}),
            "webhook_filter_invalid",
        ),
        (
            json!({"url": url, "collections": ["orders"], "filter": "missing = 1"}),
            "webhook_filter_invalid",
        ),
        (json!({"url": "ftp://example.com/"}), "webhook_url_invalid"),
        (
            json!({"url": "http://no-such-host.invalid/"}),
            "webhook_url_unresolvable",
        ),
    ] {
        assert_problem(
            app.post_json("/api/v1/admin/webhooks", &body).await,
            400,
            code,
        )
        .await;
    }
    let missing = "/api/v1/admin/webhooks/0190f000-0000-7000-8000-000000000000";
    assert_problem(app.get(missing).await, 404, "webhook_not_found").await;
    assert_problem(app.delete(missing).await, 404, "webhook_not_found").await;
    // A filter selects by the record.
    let (id, _) = create_endpoint(
        &app,
        json!({"url": url, "collections": ["orders"], "filter": "total >= 10"}),
    )
    .await;
    app.create("orders", &json!({"total": 5})).await;
    app.create("orders", &json!({"total": 50})).await;
    let got = receiver.wait_delivered(1, 20).await;
    assert_eq!(got[0].json()["data"]["record"]["total"], 50);
    json_with_status(
        app.delete(&format!("/api/v1/admin/webhooks/{id}")).await,
        204,
    )
    .await;
    assert_problem(
        app.get(&format!("/api/v1/admin/webhooks/{id}")).await,
        404,
        "webhook_not_found",
    )
    .await;
}

/// The SSRF corpus: every URL is refused when saved, with a clear code, and the listener the
/// loopback spellings point at receives no connection. No allow-list on this server.
#[tokio::test]
async fn the_ssrf_corpus_is_refused_and_nothing_connects() {
    let app = spawn_app_with(SCHEMA, |_| {}).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let blocked = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://0x7f.0.0.1:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://017700000001:{port}/"),
        format!("http://0:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::ffff:7f00:1]:{port}/"),
        format!("http://[0:0:0:0:0:ffff:7f00:1]:{port}/"),
        format!("http://[::127.0.0.1]:{port}/"),
        format!("http://[64:ff9b::7f00:1]:{port}/"),
        format!("http://[2002:7f00:1::]:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("http://127.0.0.1.:{port}/"),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://[::ffff:169.254.169.254]/".into(),
        "http://0xa9fea9fe/".into(),
        "http://2852039166/".into(),
        "http://[fd00:ec2::254]/".into(),
        "http://10.0.0.1/".into(),
        "http://10.255.255.255/".into(),
        "http://172.16.0.1/".into(),
        "http://172.31.255.254/".into(),
        "http://192.168.0.1/".into(),
        "http://100.64.0.1/".into(),
        "http://100.127.255.254/".into(),
        "http://169.254.0.1/".into(),
        "http://224.0.0.1/".into(),
        "http://239.255.255.250/".into(),
        "http://255.255.255.255/".into(),
        "http://[fe80::1]/".into(),
        "http://[fc00::1]/".into(),
        "http://[ff02::1]/".into(),
        "http://192.0.2.1/".into(),
        "http://198.18.0.1/".into(),
        "http://[::ffff:10.0.0.1]/".into(),
    ];
    let invalid = [
        format!("ftp://127.0.0.1:{port}/"),
        "file:///etc/passwd".into(),
        "gopher://127.0.0.1:70/".into(),
        format!("http://user:pass@127.0.0.1:{port}/"),
        "javascript:alert(1)".into(),
        "//127.0.0.1/".into(),
    ];
    assert!(blocked.len() + invalid.len() >= 40);
    for url in &blocked {
        let response = app
            .post_json("/api/v1/admin/webhooks", &json!({"url": url}))
            .await;
        let problem = assert_problem(response, 400, "webhook_destination_blocked").await;
        assert!(
            problem["hint"].as_str().unwrap().contains("allow_networks"),
            "{url}"
        );
    }
    for url in &invalid {
        let response = app
            .post_json("/api/v1/admin/webhooks", &json!({"url": url}))
            .await;
        assert_problem(response, 400, "webhook_url_invalid").await;
    }
    let listed = json_with_status(app.get("/api/v1/admin/webhooks").await, 200).await;
    assert_eq!(listed["data"], json!([]), "nothing was saved");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing connected"
    );
}
