//! Broker sinks on a cluster: two `fathom serve` processes on one database share one NATS sink;
//! the cursor's lease makes exactly one of them publish while the other stands by. Killed with
//! SIGKILL, the publisher's lease lapses and the other node takes over within seconds; every
//! event reaches the stream once, in sequence order.

use std::time::{Duration, Instant};

use fathom_store::Store;
use serde_json::Value;

use crate::brokers::support::{
    nats_url, process_drained, stream_messages, unique, write_posts, write_project,
};
use crate::helpers::{
    ServerProcess, database_env, scratch_database_blocking, spawn_server_process_with_env,
};

async fn role(server: &ServerProcess) -> String {
    let ready: Value = crate::helpers::client_builder()
        .build()
        .expect("an HTTP client")
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ready["brokers"][0]["role"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The roles of both nodes once they have settled: one publishes, one stands by.
async fn settled(nodes: &[ServerProcess]) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mut roles = Vec::new();
        for node in nodes {
            roles.push(role(node).await);
        }
        let publishing = roles.iter().filter(|r| *r == "publishing").count();
        let standby = roles.iter().filter(|r| *r == "standby").count();
        if publishing == 1 && standby == nodes.len() - 1 {
            return roles;
        }
        assert!(publishing <= 1, "two nodes publish one sink: {roles:?}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the nodes never settled: {roles:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_publishes_a_sink_and_another_takes_over_when_it_is_killed() {
    let Some(database) = scratch_database_blocking() else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let url = nats_url();
    let (prefix, stream) = (unique("t"), unique("S"));
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &url, &prefix, &stream);
    let env = database_env(Some(&database));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut nodes = vec![
        spawn_server_process_with_env(dir.path(), &[], &env),
        spawn_server_process_with_env(dir.path(), &[], &env),
    ];
    let roles = settled(&nodes).await;
    let holder = roles.iter().position(|r| r == "publishing").unwrap();
    // Writes through both nodes; the holder publishes all of them.
    assert_eq!(write_posts(nodes[0].url(""), 20).await, 20);
    assert_eq!(write_posts(nodes[1].url(""), 20).await, 20);
    process_drained(&nodes[holder]).await;
    assert_eq!(
        settled(&nodes).await,
        roles,
        "the lease stayed where it was"
    );

    let mut dead = nodes.remove(holder);
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    let survivor = &nodes[0];
    assert_eq!(write_posts(survivor.url(""), 10).await, 10);
    let started = Instant::now();
    while role(survivor).await != "publishing" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no takeover within 10 s (the lease is 2 s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    process_drained(survivor).await;

    let store = Store::open_postgres(fathom_store::PostgresOptions::new(database.url()))
        .await
        .unwrap();
    let events = store.events_after(0, 10_000, None).await.unwrap().events;
    assert_eq!(events.len(), 50);
    let messages = stream_messages(&url, &stream, 50).await;
    assert_eq!(messages.len(), 50, "every event once");
    for (event, (_, id, body)) in events.iter().zip(&messages) {
        assert_eq!(id, &event.id.to_string());
        assert_eq!(body["sequence"], event.sequence);
    }
}
