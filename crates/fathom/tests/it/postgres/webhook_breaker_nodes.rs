//! A webhook endpoint's circuit breaker seen from every node of a cluster: the node holding the
//! endpoint's lease delivers and its breaker opens on failures; the admin API of the node that
//! does not hold the lease shows the same open breaker (persisted by the holder), then the
//! closed one once a probe succeeded.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{TestApp, json_with_status, spawn_nodes_with};
use crate::webhooks::create_endpoint;
use crate::webhooks::receiver::Receiver;

const SCHEMA: &str = r#"
[collections.orders]
fields.total = { type = "integer", required = true }
"#;

async fn breaker(node: &TestApp, id: &str) -> (String, i64) {
    let view = json_with_status(node.get(&format!("/api/v1/admin/webhooks/{id}")).await, 200).await;
    let breaker = &view["data"]["breaker"];
    (
        breaker["state"].as_str().unwrap().to_owned(),
        breaker["consecutive_failures"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_lease_shows_the_holders_breaker() {
    let Some(nodes) = spawn_nodes_with(SCHEMA, 2, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.lease_ms = 1000;
        c.webhooks.retry_base_ms = 20;
        c.webhooks.retry_cap_secs = 1;
        c.webhooks.breaker_threshold = 2;
        c.webhooks.breaker_cooldown_secs = 2;
    })
    .await
    else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let receiver = Receiver::start().await;
    let (id, _) = create_endpoint(&nodes[0], json!({"url": receiver.url()})).await;
    // Two failures open the breaker; the first probe fails too; the second one succeeds.
    receiver.script(&[500, 500, 500]);
    nodes[0].create("orders", &json!({"total": 1})).await;
    let cursor = format!("webhook:{id}");
    let started = Instant::now();
    let holder = loop {
        let state = nodes[0].store.cursor_get(&cursor).await.unwrap();
        if let Some(holder) = state.and_then(|c| c.holder) {
            break holder;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nobody took the lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let other = nodes
        .iter()
        .find(|n| n.webhooks.holder() != holder)
        .expect("a node without the lease");
    let mut seen = BTreeSet::new();
    let mut max_failures = 0;
    while receiver.delivered().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never delivered: {seen:?}"
        );
        let (state, failures) = breaker(other, &id).await;
        max_failures = max_failures.max(failures);
        seen.insert(state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.contains("open"),
        "the other node saw it open: {seen:?}"
    );
    assert!(max_failures >= 2, "and its failures: {max_failures}");
    let closed = async || breaker(other, &id).await == ("closed".to_owned(), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !closed().await {
        assert!(
            Instant::now() < deadline,
            "the other node never saw it close"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The holder shows its own, the same.
    let holder_node = nodes
        .iter()
        .find(|n| n.webhooks.holder() == holder)
        .unwrap();
    assert_eq!(breaker(holder_node, &id).await, ("closed".to_owned(), 0));
}
