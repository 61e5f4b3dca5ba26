//! Crash durability: the real `fathom serve` process under concurrent creates, conditional
//! updates and batches is killed with SIGKILL at a random moment, restarted on the same data,
//! and every write it acknowledged must be there, intact; at the end the database passes its
//! integrity check. A few cycles here; `scripts/crash-test.sh` runs hundreds against the release
//! build (`FATHOM_CRASH_CYCLES`, figures in docs/RELIABILITY.md).
//!
//! "Intact": each writer changes only its own records, one conditional update at a time, so a
//! record acknowledged at version v with body b is found at v with b, or at v + 1 when an update
//! was in flight at the kill (committed, never acknowledged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    ServerProcess, database_env, scratch_database_blocking, spawn_server_process_with_env,
};

const SCHEMA: &str = r#"
[collections.ledger]
rules = { list = true, view = true, create = true, update = true }
fields.writer = { type = "integer", required = true }
fields.body   = { type = "text", required = true }
"#;

const WRITERS: usize = 8;

/// What the server acknowledged: id → (version, body).
type Ledger = Arc<Mutex<HashMap<String, (i64, String)>>>;

fn cycles() -> usize {
    std::env::var("FATHOM_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// One writer: creates, updates its records with `If-Match`, and creates in batches of two,
/// until the server stops answering.
async fn write_until_killed(client: reqwest::Client, base: String, writer: usize, ledger: Ledger) {
    let mut mine: Vec<String> = Vec::new();
    for n in 0.. {
        let body = format!("w{writer} #{n}");
        let outcome: Result<(), reqwest::Error> = async {
            match n % 3 {
                0 => {
                    let response = client
                        .post(format!("{base}/api/v1/ledger"))
                        .json(&json!({"writer": writer, "body": body}))
                        .send()
                        .await?;
                    if response.status() == 201 {
                        let data: Value = response.json().await?;
                        let id = data["data"]["id"].as_str().unwrap_or_default().to_owned();
                        ledger.lock().unwrap().insert(id.clone(), (1, body));
                        mine.push(id);
                    }
                }
                1 if !mine.is_empty() => {
                    let id = mine[n % mine.len()].clone();
                    let version = ledger.lock().unwrap()[&id].0;
                    let response = client
                        .patch(format!("{base}/api/v1/ledger/{id}"))
                        .header("if-match", format!("\"{id}.{version}\""))
                        .json(&json!({"body": body}))
                        .send()
                        .await?;
                    if response.status() == 200 {
                        let data: Value = response.json().await?;
                        let version = data["data"]["version"].as_i64().unwrap_or_default();
                        ledger.lock().unwrap().insert(id, (version, body));
                    }
                }
                _ => {
                    let bodies = [format!("{body} a"), format!("{body} b")];
                    let operations: Vec<Value> = bodies
                        .iter()
                        .map(|b| json!({"op": "create", "collection": "ledger", "body": {"writer": writer, "body": b}}))
                        .collect();
                    let response = client
                        .post(format!("{base}/api/v1/batch"))
                        .json(&json!({ "operations": operations }))
                        .send()
                        .await?;
                    if response.status() == 200 {
                        let data: Value = response.json().await?;
                        for (result, b) in data["data"].as_array().into_iter().flatten().zip(bodies) {
                            let id = result["id"].as_str().unwrap_or_default().to_owned();
                            ledger.lock().unwrap().insert(id.clone(), (1, b));
                            mine.push(id);
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        if outcome.is_err() {
            return;
        }
    }
}

/// Every record the server holds now: id → (version, body).
async fn stored(client: &reqwest::Client, base: &str) -> HashMap<String, (i64, String)> {
    let mut out = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/ledger?limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client.get(url).send().await.unwrap().json().await.unwrap();
        for record in page["data"].as_array().unwrap() {
            out.insert(
                record["id"].as_str().unwrap().to_owned(),
                (
                    record["version"].as_i64().unwrap(),
                    record["body"].as_str().unwrap().to_owned(),
                ),
            );
        }
        match page["meta"]["page"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fathom.schema.toml"), SCHEMA).unwrap();
    let database = tokio::task::spawn_blocking(scratch_database_blocking)
        .await
        .unwrap();
    let env: Vec<(&str, String)> = database_env(database.as_ref());
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start = |dir: &std::path::Path| -> ServerProcess {
        spawn_server_process_with_env(dir, &[], &env_refs)
    };
    let client = crate::helpers::client_builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let ledger: Ledger = Arc::default();
    let mut acknowledged_total = 0;
    let (mut checks, mut in_flight) = (0usize, 0usize);
    let started = std::time::Instant::now();
    for cycle in 0..cycles() {
        let server = start(dir.path());
        let base = format!("http://{}", server.address);
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(write_until_killed(
                    client.clone(),
                    base.clone(),
                    w + cycle * WRITERS,
                    ledger.clone(),
                ))
            })
            .collect();
        let pause = 150 + (rand_below(400) as u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        drop(server); // SIGKILL, then reaped.
        for writer in writers {
            writer.await.unwrap();
        }

        let server = start(dir.path());
        let base = format!("http://{}", server.address);
        let found = stored(&client, &base).await;
        let expected = ledger.lock().unwrap().clone();
        acknowledged_total = expected.len();
        checks += expected.len();
        for (id, (version, body)) in &expected {
            let Some((stored_version, stored_body)) = found.get(id) else {
                panic!("cycle {cycle}: acknowledged record {id} is missing");
            };
            if stored_version == version {
                assert_eq!(
                    stored_body, body,
                    "cycle {cycle}: {id} is not as acknowledged"
                );
            } else {
                assert_eq!(
                    *stored_version,
                    version + 1,
                    "cycle {cycle}: {id} at version {stored_version}, acknowledged at {version}"
                );
                // The unacknowledged update committed: take it as the new baseline.
                in_flight += 1;
                ledger
                    .lock()
                    .unwrap()
                    .insert(id.clone(), (*stored_version, stored_body.clone()));
            }
        }
        drop(server);
    }
    assert!(acknowledged_total > 0, "the writers got acknowledgements");
    println!(
        "crash test: {} SIGKILL cycles in {:.1} s, {acknowledged_total} acknowledged records, {checks} record checks after restarts, 0 lost, {in_flight} unacknowledged updates found committed",
        cycles(),
        started.elapsed().as_secs_f64()
    );
    if database.is_none() {
        // A clean start and stop, then the file's own check.
        let server = start(dir.path());
        server.terminate();
        let mut server = server;
        let _ = server.child.wait();
        let file = dir.path().join("fathom_data").join("fathom.db");
        let info = fathom_store::sqlite_backup::check(&file).expect("integrity_check passes");
        assert!(info.bytes > 0);
    }
}

/// A number below `n` from the clock (enough randomness for a kill moment).
fn rand_below(n: u32) -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        % n
}
