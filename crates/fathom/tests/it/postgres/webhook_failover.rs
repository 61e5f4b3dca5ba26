//! Webhooks across a cluster: three nodes on one PostgreSQL database share an endpoint; exactly
//! one holds its delivery lease. The holder is stopped mid-stream without releasing the lease
//! (as a crash leaves it); another node takes over once the lease expires, and every event
//! arrives, duplicates only with the same `webhook-id`. Then the same with real processes: the
//! holder is killed with SIGKILL mid-stream and the standby takes over within seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_nodes_with;
use crate::webhooks::create_endpoint;
use crate::webhooks::receiver::Receiver;

const SCHEMA: &str = r#"
[collections.orders]
fields.total = { type = "integer", required = true }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_moves_to_another_node_and_every_event_arrives() {
    let Some(mut nodes) = spawn_nodes_with(SCHEMA, 3, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.lease_ms = 1000;
    })
    .await
    else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let receiver = Receiver::start().await;
    let (id, _) = create_endpoint(&nodes[0], json!({"url": receiver.url()})).await;
    let cursor = format!("webhook:{id}");
    for total in 0..20 {
        nodes[total % 3]
            .create("orders", &json!({"total": total}))
            .await;
    }
    assert_eq!(receiver.wait_delivered(20, 30).await.len(), 20);
    let before = nodes[0].store.cursor_get(&cursor).await.unwrap().unwrap();
    let holder = before.holder.clone().unwrap();
    let index = nodes
        .iter()
        .position(|n| n.webhooks.holder() == holder)
        .expect("one of the nodes holds the lease");
    let survivor = (index + 1) % 3;
    // Writes continue on a surviving node while the holder stops mid-stream.
    let writer = {
        let client = nodes[survivor].client.clone();
        let url = nodes[survivor].url("/api/v1/orders");
        tokio::spawn(async move {
            for total in 20..60 {
                let response = client
                    .post(&url)
                    .json(&json!({"total": total}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    nodes.remove(index).stop().await;
    writer.await.unwrap();
    let got = receiver.wait_delivered(60, 30).await;
    let mut by_id: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for message in &got {
        by_id
            .entry(message.id.clone())
            .or_default()
            .insert(message.sequence());
    }
    assert_eq!(by_id.len(), 60, "every event arrived");
    assert!(
        by_id.values().all(|seqs| seqs.len() == 1),
        "a duplicate carries the same webhook-id as the original"
    );
    let totals: BTreeSet<i64> = got
        .iter()
        .map(|m| m.json()["data"]["record"]["total"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, (0..60).collect());
    let after = nodes[0].store.cursor_get(&cursor).await.unwrap().unwrap();
    assert_ne!(
        after.holder.as_deref(),
        Some(holder.as_str()),
        "another node took over"
    );
    assert!(after.generation > before.generation);
    // In order per endpoint, duplicates aside.
    let mut seen = BTreeSet::new();
    let firsts: Vec<i64> = got
        .iter()
        .map(receiver::Received::sequence)
        .filter(|s| seen.insert(*s))
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
}

use crate::webhooks::receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_holder_is_replaced_within_seconds_and_the_rest_arrives() {
    use crate::helpers::{scratch_database_blocking, spawn_server_process};
    use crate::webhooks::crash::{
        add_endpoint, check_delivery, wait_delivering, wait_for_ids, write_orders, write_project,
    };
    let Some(database) = tokio::task::spawn_blocking(scratch_database_blocking)
        .await
        .unwrap()
    else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_project(dir_a.path(), Some(&database));
    write_project(dir_b.path(), Some(&database));
    let receiver = Receiver::start().await;
    let holder = spawn_server_process(dir_a.path(), &[]);
    let secret = add_endpoint(dir_a.path(), &receiver.url());
    // The first node takes the lease before the second one starts: it is the holder.
    let store =
        fathom_store::Store::open_postgres(fathom_store::PostgresOptions::new(database.url()))
            .await
            .unwrap();
    let started = std::time::Instant::now();
    let first = loop {
        let cursors = store.cursor_list().await.unwrap();
        if let Some(c) = cursors.into_iter().find(|c| c.holder.is_some()) {
            break c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nobody took the lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let standby = spawn_server_process(dir_b.path(), &[]);
    let writer = tokio::spawn(write_orders(standby.url(""), 0, 300));
    wait_delivering(&receiver, 40).await;
    let killed_at = std::time::Instant::now();
    let delivered_at_kill = receiver.delivered().len();
    drop(holder); // SIGKILL, then reaped: the lease is left behind, as a crash leaves it.
    let acknowledged = writer.await.unwrap();
    assert_eq!(acknowledged.len(), 300);
    let takeover = loop {
        if receiver.delivered().len() > delivered_at_kill {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "the standby never took over"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(delivered_at_kill < 300, "killed mid-stream");
    let got = wait_for_ids(&receiver, &acknowledged, 60).await;
    let duplicates = check_delivery(&got, &acknowledged, &secret);
    let after = store.cursor_get(&first.name).await.unwrap().unwrap();
    assert_ne!(after.holder, first.holder, "the standby holds the lease");
    assert!(after.generation > first.generation);
    assert!(takeover < Duration::from_secs(8), "{takeover:?}");
    println!(
        "webhook failover: the standby delivered {:.2} s after the SIGKILL (lease 1 s); {} messages for 300 events, {duplicates} duplicates",
        takeover.as_secs_f64(),
        got.len()
    );
    drop(standby);
}
