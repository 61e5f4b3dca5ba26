//! Two in-process nodes on one PostgreSQL database follow one outbox: writes through both
//! interleave into one gap-free sequence, each node's event watch learns of the other's commits
//! (LISTEN/NOTIFY, or the poll behind it), and both change feeds answer the same events.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{json_with_status, on_postgres, spawn_app, spawn_node};

const SCHEMA: &str = r#"
[collections.notes]
fields.body = { type = "text", required = true }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_sequence_and_each_watch_sees_the_others_events() {
    if !on_postgres() {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    }
    let a = Arc::new(spawn_app(SCHEMA).await);
    let b = Arc::new(spawn_node(&a, SCHEMA, "second-admin@example.com").await);
    let mut watch_a = a.store.event_watch();
    let mut watch_b = b.store.event_watch();

    // Concurrent writes through both nodes.
    let mut writes = tokio::task::JoinSet::new();
    for n in 0..10 {
        let node = if n % 2 == 0 { a.clone() } else { b.clone() };
        writes.spawn(async move {
            node.create("notes", &json!({ "body": format!("note {n}") }))
                .await
        });
    }
    writes.join_all().await;
    for (name, watch) in [("a", &mut watch_a), ("b", &mut watch_b)] {
        tokio::time::timeout(Duration::from_secs(3), watch.wait_for(|n| *n >= 10))
            .await
            .unwrap_or_else(|_| panic!("node {name}'s watch reaches 10"))
            .unwrap();
    }
    let page_a = json_with_status(a.get("/api/v1/events?limit=100").await, 200).await;
    let page_b = json_with_status(b.get("/api/v1/events?limit=100").await, 200).await;
    assert_eq!(page_a["data"], page_b["data"]);
    let sequences: Vec<i64> = page_a["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["sequence"].as_i64().expect("sequence"))
        .collect();
    assert_eq!(sequences, (1..=10).collect::<Vec<_>>());
    let actors: std::collections::BTreeSet<&str> = page_a["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["actor"]["id"].as_str().expect("a user wrote it"))
        .collect();
    assert_eq!(
        actors.len(),
        2,
        "each node's administrator wrote through its node"
    );

    // A write on one node wakes a watcher on the other.
    let waiting = tokio::spawn({
        let mut watch = b.store.event_watch();
        async move {
            tokio::time::timeout(Duration::from_secs(3), watch.wait_for(|n| *n >= 11))
                .await
                .is_ok()
        }
    });
    a.create("notes", &json!({ "body": "wake b" })).await;
    assert!(
        waiting.await.expect("task"),
        "node b learns of node a's event"
    );
}
