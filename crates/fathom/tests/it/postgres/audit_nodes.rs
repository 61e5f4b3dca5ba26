//! Three nodes on one PostgreSQL database write to an `audit = true` collection at once: the
//! head row's lock keeps the audit chain linear (gap-free, each entry chained to the one before)
//! and `fathom audit verify` passes.

use std::sync::Arc;

use serde_json::json;

use crate::audit::{AUDITED, cli};
use crate::helpers::spawn_nodes;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_writing_at_once_keep_one_linear_chain() {
    let Some(nodes) = spawn_nodes(AUDITED, 3).await else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let nodes: Vec<_> = nodes.into_iter().map(Arc::new).collect();
    let before = nodes[0].store.audit_head().await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(60));
    let mut tasks = Vec::new();
    for n in 0..60 {
        let (node, barrier) = (nodes[n % 3].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let request = node
                .client
                .post(node.url("/api/v1/payments"))
                .json(&json!({ "amount": n }));
            barrier.wait().await;
            request.send().await.unwrap().status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 201);
    }
    let log = nodes[1].store.audit_chain(before.seq, 1000).await.unwrap();
    assert_eq!(log.len(), 60);
    for (n, pair) in log.windows(2).enumerate() {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "gap after entry {n}");
        assert_eq!(pair[1].prev_hash, pair[0].hash, "fork at {}", pair[1].seq);
    }
    // The last node holds the database's URL for the CLI.
    let run = cli(&nodes[2], &["verify"]);
    assert_eq!(run.0, 0, "{}\n{}", run.1, run.2);
    assert!(
        run.1.contains(&format!("{} entries", before.seq + 60)),
        "{}",
        run.1
    );
}
