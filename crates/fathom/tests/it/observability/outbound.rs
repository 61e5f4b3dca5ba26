//! Outbound calls in `/metrics`: webhook attempts counted by outcome, every breaker's state
//! (webhook endpoints by id, the SMTP relay as `smtp`) and the webhook endpoints' outbox lag,
//! after real deliveries to receivers on loopback (allow-listed).

use std::time::Duration;

use fathom::config::Secret;
use serde_json::json;

use super::exposition::Exposition;
use super::metrics::scrape;
use crate::helpers::{TestApp, spawn_app_with};
use crate::webhooks::create_endpoint;
use crate::webhooks::receiver::Receiver;

const SCHEMA: &str = r#"
[collections.orders]
fields.total = { type = "integer", required = true }
"#;

const DELIVERIES: &str = "fathom_webhook_deliveries_total";
const BREAKER: &str = "fathom_outbound_breaker_state";
const LAG: &str = "fathom_outbox_lag_events";

/// Scrapes until `check` holds (at most `secs` seconds); the last exposition either way.
async fn scrape_until(app: &TestApp, secs: u64, check: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (_, exposition) = scrape(app).await;
        if check(&exposition) || tokio::time::Instant::now() > deadline {
            return exposition;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn breaker(e: &Exposition, kind: &str, destination: &str) -> f64 {
    e.value(BREAKER, &[("kind", kind), ("destination", destination)])
}

fn lag(e: &Exposition, consumer: &str) -> f64 {
    e.value(LAG, &[("consumer", consumer)])
}

#[tokio::test]
async fn deliveries_breakers_and_lag_of_outbound_calls_are_exported() {
    // A relay that is never called (no mail is sent here): its breaker is reported closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let smtp = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(SCHEMA, |c| {
        c.metrics.listen = Some("127.0.0.1:0".into());
        c.mail.smtp_url = Some(Secret::new(smtp));
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.retry_base_ms = 20;
        c.webhooks.retry_cap_secs = 1;
        c.webhooks.retries = 50;
        c.webhooks.breaker_threshold = 2;
        // Long enough that the open breaker is still open when scraped.
        c.webhooks.breaker_cooldown_secs = 600;
        c.webhooks.lease_ms = 1000;
    })
    .await;
    let healthy = Receiver::start().await;
    let failing = Receiver::start().await;
    failing.script(&[500; 100]);
    let (healthy_id, _) = create_endpoint(&app, json!({"url": healthy.url()})).await;
    let (failing_id, _) = create_endpoint(&app, json!({"url": failing.url()})).await;
    let (_, before) = scrape(&app).await;
    assert_eq!(before.value(DELIVERIES, &[("outcome", "delivered")]), 0.0);
    assert_eq!(breaker(&before, "mail", "smtp"), 0.0);

    const N: usize = 4;
    for total in 0..N {
        app.create("orders", &json!({"total": total})).await;
    }
    assert_eq!(healthy.wait_delivered(N, 20).await.len(), N);
    let healthy_consumer = format!("webhook:{healthy_id}");
    let failing_consumer = format!("webhook:{failing_id}");
    let after = scrape_until(&app, 20, |e| {
        e.value_or_zero(DELIVERIES, &[("outcome", "delivered")]) == N as f64
            && e.value_or_zero(
                BREAKER,
                &[("kind", "webhook"), ("destination", &failing_id)],
            ) == 2.0
            // The attempt is counted once logged, a moment after the breaker has opened.
            && e.value_or_zero(DELIVERIES, &[("outcome", "failed")]) >= 2.0
            && e.value_or_zero(LAG, &[("consumer", &healthy_consumer)]) == 0.0
            && e.matching(LAG, &[("consumer", &failing_consumer)]).count() == 1
            // On PostgreSQL the hub learns of commits through LISTEN/NOTIFY, a moment later.
            && e.value_or_zero(LAG, &[("consumer", "realtime")]) == 0.0
    })
    .await;
    assert_eq!(
        after.value(DELIVERIES, &[("outcome", "delivered")]),
        N as f64,
        "every message to the healthy receiver, once"
    );
    assert_eq!(breaker(&after, "webhook", &healthy_id), 0.0, "closed");
    assert_eq!(breaker(&after, "webhook", &failing_id), 2.0, "open");
    // The failing receiver answered 500 until the breaker opened: two failures, then no
    // attempt while it is open.
    assert_eq!(after.value(DELIVERIES, &[("outcome", "failed")]), 2.0);
    assert_eq!(failing.received().len(), 2);
    assert_eq!(
        after.value(DELIVERIES, &[("outcome", "dead_lettered")]),
        0.0
    );
    assert_eq!(lag(&after, &healthy_consumer), 0.0);
    assert_eq!(
        lag(&after, &failing_consumer),
        N as f64,
        "nothing delivered past the cursor, which started at the latest event"
    );
    assert_eq!(lag(&after, "realtime"), 0.0);
    assert_eq!(breaker(&after, "mail", "smtp"), 0.0);
    // Destinations are ids, never URLs.
    let (text, _) = scrape(&app).await;
    assert!(
        !text.contains(&healthy.url()) && !text.contains("127.0.0.1:"),
        "{text}"
    );
    // A deleted endpoint leaves the metrics: no breaker, no lag.
    let path = format!("/api/v1/admin/webhooks/{failing_id}");
    assert_eq!(app.delete(&path).await.status(), 204);
    let gone = scrape_until(&app, 10, |e| {
        e.matching(BREAKER, &[("destination", &failing_id)]).count() == 0
            && e.matching(LAG, &[("consumer", &failing_consumer)]).count() == 0
    })
    .await;
    assert_eq!(
        gone.matching(BREAKER, &[("destination", &failing_id)])
            .count(),
        0
    );
    assert_eq!(
        gone.matching(LAG, &[("consumer", &failing_consumer)])
            .count(),
        0
    );
    assert_eq!(breaker(&gone, "webhook", &healthy_id), 0.0);
}
