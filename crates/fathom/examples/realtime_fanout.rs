//! Realtime fan-out, measured over the real protocol: one writer inserts records one at a time
//! over HTTP while N WebSocket subscribers follow the collection. Prints the writer's inserts/s
//! (with no subscriber, then with N), and per subscriber whether every event arrived once and in
//! order, and the delivery latency from commit (`committed_at`, millisecond resolution) to
//! receipt, p50 and p99 over all subscribers.
//!
//! The server runs in-process on embedded SQLite, on the same cores as the subscribers: an
//! indication for the development loop, not the W5 benchmark of `fathom-bench`.
//!
//! Run: `cargo run -p fathom --example realtime_fanout -- [subscribers] [inserts]` (defaults
//! 100 and 1000).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fathom::{Application, Config};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SCHEMA: &str = r#"
[collections.ticks]
rules = { list = true, view = true, create = true }
fields.n = { type = "integer", required = true }
"#;

/// Milliseconds since midnight UTC of a canonical timestamp (`2026-12-02T11:10:12.993Z`).
fn ms_of_day(timestamp: &str) -> Option<i64> {
    let time = timestamp.get(11..23)?;
    let h: i64 = time.get(0..2)?.parse().ok()?;
    let m: i64 = time.get(3..5)?.parse().ok()?;
    let s: i64 = time.get(6..8)?.parse().ok()?;
    let ms: i64 = time.get(9..12)?.parse().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

fn now_ms_of_day() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    i64::try_from(ms % 86_400_000).unwrap_or(0)
}

async fn write(client: &reqwest::Client, url: &str, count: usize) -> Duration {
    let start = Instant::now();
    for n in 0..count {
        let response = client
            .post(url)
            .json(&json!({ "n": n }))
            .send()
            .await
            .expect("insert sent");
        assert_eq!(response.status(), 201, "insert");
    }
    start.elapsed()
}

/// One subscriber: connects, then collects `(seq, latency ms)` for `count` events.
async fn subscriber(
    address: String,
    count: usize,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Vec<(i64, i64)> {
    // tungstenite's default 128 KiB read buffer is zero-filled on every read: with 100 clients in
    // the server's process that memset was a fifth of the CPU, measured against the server.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{address}/api/v1/realtime/ws"),
        Some(config),
        false,
    )
    .await
    .expect("websocket");
    let auth = json!({"type": "auth", "subscriptions": [{"id": "t", "collection": "ticks"}]});
    socket
        .send(Message::Text(auth.to_string().into()))
        .await
        .expect("auth sent");
    let mut received = Vec::with_capacity(count);
    while received.len() < count {
        let Some(Ok(message)) = socket.next().await else {
            break;
        };
        let Message::Text(text) = message else {
            continue;
        };
        let frame: Value = serde_json::from_str(&text).expect("json");
        match frame["type"].as_str() {
            Some("subscribed") => {
                let _ = ready.send(()).await;
            }
            Some("event") => {
                let committed = frame["committed_at"]
                    .as_str()
                    .and_then(ms_of_day)
                    .unwrap_or(0);
                received.push((
                    frame["seq"].as_i64().unwrap_or(-1),
                    now_ms_of_day() - committed,
                ));
            }
            Some("lagged" | "closing") => {
                eprintln!("subscriber ended early: {frame}");
                break;
            }
            _ => {}
        }
    }
    received
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let subscribers: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let inserts: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.database.data_dir = dir.path().to_path_buf();
    config.log.level = "warn".into();
    let schema = fathom_schema::parse_schema("fanout.toml", SCHEMA)?;
    let app = Application::build(&config, schema, "fathom.db").await?;
    let address = app.local_addr()?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    fathom_webhooks::install_crypto_provider();
    let client = {
        fathom_webhooks::install_crypto_provider();
        reqwest::Client::new()
    };
    let url = format!("http://{address}/api/v1/ticks");

    let alone = write(&client, &url, inserts).await;
    println!(
        "writer alone: {inserts} inserts in {:.2} s = {:.0} inserts/s",
        alone.as_secs_f64(),
        inserts as f64 / alone.as_secs_f64()
    );

    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(subscribers.max(1));
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| tokio::spawn(subscriber(address.clone(), inserts, ready_tx.clone())))
        .collect();
    for _ in 0..subscribers {
        ready_rx.recv().await;
    }
    let with = write(&client, &url, inserts).await;
    println!(
        "writer with {subscribers} subscribers: {:.2} s = {:.0} inserts/s ({:.0} % of alone)",
        with.as_secs_f64(),
        inserts as f64 / with.as_secs_f64(),
        100.0 * alone.as_secs_f64() / with.as_secs_f64()
    );
    let mut latencies = Vec::new();
    let (mut complete, mut ordered) = (0, 0);
    for task in tasks {
        let received = task.await?;
        let seqs: Vec<i64> = received.iter().map(|(s, _)| *s).collect();
        if seqs.len() == inserts {
            complete += 1;
        }
        if seqs.windows(2).all(|w| w[1] == w[0] + 1) {
            ordered += 1;
        }
        latencies.extend(received.iter().map(|(_, l)| *l));
    }
    latencies.sort_unstable();
    let at = |p: f64| {
        latencies
            .get(((latencies.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "subscribers complete: {complete}/{subscribers}; in order without gaps: {ordered}/{subscribers}; delivery latency p50 {} ms, p99 {} ms, max {} ms",
        at(0.5),
        at(0.99),
        latencies.last().copied().unwrap_or(0)
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
