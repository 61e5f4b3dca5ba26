//! A `fathom serve` process killed with SIGKILL while it delivers webhooks: after its restart
//! on the same data every acknowledged write's event arrives at the receiver (a real HTTP
//! server on loopback, allow-listed, that verifies signatures independently), duplicates only
//! with the same `webhook-id`, in sequence order. The helpers here also serve the PostgreSQL
//! failover test (`postgres::webhook_failover`), where two processes share the database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::receiver::{Received, Receiver};
use fathom_store::ScratchDatabase;

use crate::helpers::{ServerProcess, run_cli, scratch_database_blocking, spawn_server_process};

const SCHEMA: &str = r#"
[collections.orders]
rules = { create = true }
fields.total = { type = "integer", required = true }
"#;

/// A project directory: the schema and a `fathom.toml` whose webhooks may reach loopback,
/// with 1 s leases and quick retries, on `database` when there is one (PostgreSQL), and no
/// data-API rate limits (the tests write hundreds of orders anonymously from one address).
pub fn write_project(dir: &Path, database: Option<&ScratchDatabase>) {
    std::fs::write(dir.join("fathom.schema.toml"), SCHEMA).unwrap();
    let url = database
        .map(|d| format!("[database]\nurl = \"{}\"\n", d.url()))
        .unwrap_or_default();
    std::fs::write(
        dir.join("fathom.toml"),
        format!(
            "{url}[webhooks]\nallow_networks = [\"127.0.0.0/8\"]\nlease_ms = 1000\nretry_base_ms = 20\nretry_cap_secs = 1\n[rate_limits]\nenabled = false\n"
        ),
    )
    .unwrap();
}

/// Adds an endpoint for `orders` with `fathom webhooks add` (the server applied the schema);
/// returns its signing secret.
pub fn add_endpoint(dir: &Path, url: &str) -> String {
    let output = run_cli(dir, &["webhooks", "add", url, "--collection", "orders"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .expect("the secret is printed once")
        .to_owned()
}

/// Creates orders through `base` one after another until `n` are acknowledged or the server
/// stops answering; returns the ids it acknowledged.
pub async fn write_orders(base: String, first: i64, n: i64) -> Vec<String> {
    let client = crate::helpers::client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for total in first..first + n {
        let Ok(response) = client
            .post(format!("{base}/api/v1/orders"))
            .json(&json!({ "total": total }))
            .send()
            .await
        else {
            break;
        };
        if response.status() != 201 {
            break;
        }
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        ids.push(body["data"]["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// The record ids the receiver got (2xx), whatever the duplicates.
pub fn record_ids(got: &[Received]) -> BTreeSet<String> {
    got.iter()
        .map(|m| {
            m.json()["data"]["record"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Waits until the receiver got every id in `ids` (at most `secs` seconds).
pub async fn wait_for_ids(receiver: &Receiver, ids: &[String], secs: u64) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = receiver.delivered();
        let have = record_ids(&got);
        if ids.iter().all(|id| have.contains(id)) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What at-least-once delivery promises, checked on what arrived: every acknowledged id,
/// each signed; a `webhook-id` always with the same event (a duplicate is the same message);
/// first arrivals in sequence order. Returns how many duplicates came.
pub fn check_delivery(got: &[Received], acknowledged: &[String], secret: &str) -> usize {
    let have = record_ids(got);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !have.contains(*id))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let mut by_webhook_id: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for message in got {
        assert!(message.signed_by(secret), "the signature verifies");
        assert_eq!(
            message.json()["data"]["id"].as_str(),
            Some(message.id.as_str())
        );
        by_webhook_id
            .entry(message.id.as_str())
            .or_default()
            .insert(message.sequence());
    }
    assert!(
        by_webhook_id.values().all(|s| s.len() == 1),
        "a webhook-id always carries the same event"
    );
    let mut seen = BTreeSet::new();
    let firsts: Vec<i64> = got
        .iter()
        .map(Received::sequence)
        .filter(|s| seen.insert(*s))
        .collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "in order: {firsts:?}"
    );
    got.len() - by_webhook_id.len()
}

/// Waits until the receiver got at least `n` messages.
pub async fn wait_delivering(receiver: &Receiver, n: usize) {
    let started = Instant::now();
    while receiver.delivered().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing was delivered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_mid_stream_and_a_restart_every_event_arrives() {
    let database = tokio::task::spawn_blocking(scratch_database_blocking)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), database.as_ref());
    let receiver = Receiver::start().await;

    let server: ServerProcess = spawn_server_process(dir.path(), &[]);
    let secret = add_endpoint(dir.path(), &receiver.url());
    let writer = tokio::spawn(write_orders(server.url(""), 0, 100_000));
    // Kill it while it delivers: a good number arrived, more are being written.
    wait_delivering(&receiver, 40).await;
    drop(server); // SIGKILL, then reaped.
    let mut acknowledged = writer.await.unwrap();
    let before_restart = receiver.delivered().len();
    assert!(acknowledged.len() > before_restart, "killed mid-stream");

    let server = spawn_server_process(dir.path(), &[]);
    acknowledged.extend(write_orders(server.url(""), 1_000_000, 20).await);
    let got = wait_for_ids(&receiver, &acknowledged, 60).await;
    let duplicates = check_delivery(&got, &acknowledged, &secret);
    println!(
        "webhook crash test: {} acknowledged, {} delivered before the kill, {} messages, {duplicates} duplicates (same webhook-id)",
        acknowledged.len(),
        before_restart,
        got.len()
    );
}
