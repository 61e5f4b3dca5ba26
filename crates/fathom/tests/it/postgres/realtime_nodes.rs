//! Realtime across a cluster: three nodes on one PostgreSQL database (each with its own store,
//! so its own outbox follower woken by LISTEN/NOTIFY), writes spread across all of them,
//! subscribers on every node over WebSocket and SSE. Every subscriber receives the identical
//! sequence of events, and a client that drops off one node resumes on another without a gap.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_nodes};
use crate::realtime::support::{SCHEMA, Sse, Ws, sub};

const PER_NODE: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_on_every_node_receive_identical_sequences() {
    let Some(nodes) = spawn_nodes(SCHEMA, 3).await else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let subs = json!([sub("p", "posts")]);
    let mut sockets = Vec::new();
    for node in &nodes {
        let (mut ws, _) = Ws::connect(node, None, None, subs.clone()).await;
        ws.expect("subscribed").await;
        sockets.push(ws);
    }
    let (mut sse, _) = Sse::open(&nodes[1], &subs, None, None).await;
    sse.expect("subscribed").await;
    let (mut leaving, _) = Ws::connect(&nodes[0], None, None, subs.clone()).await;
    leaving.expect("subscribed").await;

    let writers: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(n, node)| {
            let client = node.client.clone();
            let url = node.url("/api/v1/posts");
            tokio::spawn(async move {
                for i in 0..PER_NODE {
                    let body = json!({"title": format!("n{n}-{i}"), "n": i});
                    let response = client.post(&url).json(&body).send().await.unwrap();
                    assert_eq!(response.status(), 201);
                }
            })
        })
        .collect();
    // One client drops off node 0 part-way and resumes on node 2.
    let first_part = leaving.events(10).await;
    let resume = first_part.last().unwrap()["seq"].as_i64().unwrap();
    drop(leaving);
    for writer in writers {
        writer.await.unwrap();
    }
    let total = PER_NODE * nodes.len();
    let mut sequences: Vec<Vec<(i64, Value)>> = Vec::new();
    for ws in &mut sockets {
        sequences.push(pairs(&ws.events(total).await));
    }
    let over_sse: Vec<Value> = sse
        .events(total)
        .await
        .into_iter()
        .map(|f| f.data)
        .collect();
    sequences.push(pairs(&over_sse));
    let (mut resumed, _) = Ws::connect(&nodes[2], None, Some(resume), subs).await;
    resumed.expect("subscribed").await;
    let mut rejoined = pairs(&first_part);
    rejoined.extend(pairs(&resumed.events(total - 10).await));
    sequences.push(rejoined);

    let reference = &sequences[0];
    let seqs: Vec<i64> = reference.iter().map(|(s, _)| *s).collect();
    let start = seqs[0];
    assert_eq!(
        seqs,
        (start..start + total as i64).collect::<Vec<_>>(),
        "gap-free and ordered"
    );
    for (i, sequence) in sequences.iter().enumerate() {
        assert_eq!(sequence, reference, "subscriber {i} differs");
    }
    check_all_written(&nodes[0], reference).await;
}

fn pairs(events: &[Value]) -> Vec<(i64, Value)> {
    events
        .iter()
        .map(|e| (e["seq"].as_i64().unwrap(), e["id"].clone()))
        .collect()
}

/// Every post the writers created is in the sequence, once.
async fn check_all_written(node: &TestApp, sequence: &[(i64, Value)]) {
    let listed: Value = node
        .get("/api/v1/posts?limit=100")
        .await
        .json()
        .await
        .unwrap();
    let mut listed: Vec<Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    let mut seen: Vec<Value> = sequence.iter().map(|(_, id)| id.clone()).collect();
    listed.sort_by_key(|v| v.to_string());
    seen.sort_by_key(|v| v.to_string());
    assert_eq!(seen, listed);
}
