//! One `Idempotency-Key` sent at once to three nodes on one PostgreSQL database: the key's row
//! is the arbiter across nodes, so exactly one write happens and every other answer is its
//! replay (or 409 while it is not yet readable).

use std::sync::Arc;

use serde_json::json;

use crate::helpers::{json_with_status, spawn_nodes};

const SCHEMA: &str = r#"
[collections.notes]
fields.body = { type = "text", required = true }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_on_three_nodes_writes_once() {
    let Some(nodes) = spawn_nodes(SCHEMA, 3).await else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let nodes: Vec<_> = nodes.into_iter().map(Arc::new).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(30));
    let mut tasks = Vec::new();
    for n in 0..30 {
        let (node, barrier) = (nodes[n % 3].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let request = node
                .client
                .post(node.url("/api/v1/notes"))
                .header("idempotency-key", "\"across-nodes\"")
                .json(&json!({"body": "once"}));
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            (
                response.status().as_u16(),
                replayed,
                response.text().await.unwrap(),
            )
        }));
    }
    let (mut fresh, mut bodies) = (0, Vec::new());
    for task in tasks {
        let (status, replayed, text) = task.await.unwrap();
        match status {
            201 if !replayed => {
                fresh += 1;
                bodies.push(text);
            }
            201 => bodies.push(text),
            409 => assert!(text.contains("idempotency_key_in_flight"), "{text}"),
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert_eq!(fresh, 1, "one node wrote");
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one answer");
    let counted =
        json_with_status(nodes[0].get("/api/v1/notes?count=true&limit=1").await, 200).await;
    assert_eq!(counted["meta"]["page"]["total"], 1);
}
