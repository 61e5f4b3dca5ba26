//! The outbox pruner and delivery cursors over the real server: with a retention of one event,
//! the events an enabled endpoint has not received yet survive pruning while its receiver is
//! down, and arrive, in order, when it comes back; what the endpoint passed is pruned.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use super::receiver::Receiver;
use super::{SCHEMA, create_endpoint, wait_for};
use crate::helpers::{TestApp, spawn_app_with};

/// The outbox's oldest kept sequence.
async fn oldest(app: &TestApp) -> i64 {
    app.store.events_after(0, 1, None).await.unwrap().oldest
}

/// A loopback address nothing listens on (yet).
fn unused_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn events_an_endpoint_has_not_received_survive_pruning_until_it_comes_back() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.events.retention_count = 1;
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.retry_base_ms = 20;
        c.webhooks.retry_cap_secs = 1;
        c.webhooks.retries = 1_000;
        c.webhooks.breaker_threshold = 1_000;
        c.webhooks.lease_ms = 1000;
    })
    .await;
    for n in 0..2 {
        app.create("tags", &json!({"name": format!("early{n}")}))
            .await;
    }
    let down = unused_address();
    let (_, secret) = create_endpoint(
        &app,
        json!({"url": format!("http://{down}/hook"), "collections": ["orders"]}),
    )
    .await;
    let mut ids = Vec::new();
    for total in 0..5 {
        let created = app.create("orders", &json!({"total": total})).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    app.create("tags", &json!({"name": "last"})).await;
    // The pruner removes what came before the endpoint's cursor (sequences 1 and 2) ...
    assert!(
        wait_for(async || oldest(&app).await == 3, 20).await,
        "the pruner never removed the events before the endpoint's cursor"
    );
    // ... and nothing after it while the receiver stays down, however long.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(oldest(&app).await, 3);

    let receiver = Receiver::start_at(down).await;
    let got = receiver.wait_delivered(5, 30).await;
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(
        got.iter().map(|r| r.sequence()).collect::<Vec<_>>(),
        [3, 4, 5, 6, 7]
    );
    for (message, id) in got.iter().zip(&ids) {
        assert!(message.signed_by(&secret));
        assert_eq!(message.json()["data"]["record"]["id"], json!(id));
    }
    // Once the endpoint passed them, the pruner removes them too (the latest event stays).
    assert!(
        wait_for(async || oldest(&app).await == 8, 20).await,
        "the delivered events were never pruned"
    );
}
