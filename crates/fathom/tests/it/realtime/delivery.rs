//! Delivery: every change in global sequence order on both transports (also under concurrent
//! writers), how each is announced (create, update, delete, enter, leave), field selection, and
//! one frame per event carrying every matching subscription.

use serde_json::{Value, json};

use super::support::{SCHEMA, Sse, Ws, announced, create, delete, marker, patch, sub};
use crate::helpers::spawn_app;

#[tokio::test]
async fn concurrent_writes_arrive_in_sequence_order_on_both_transports() {
    let app = spawn_app(SCHEMA).await;
    let subs = json!([sub("p", "posts")]);
    let (mut ws, ready) = Ws::connect(&app, Some(&app.admin_token), None, subs.clone()).await;
    ws.expect("subscribed").await;
    let (mut sse, _) = Sse::open(&app, &subs, Some(&app.admin_token), None).await;
    sse.expect("subscribed").await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let client = app.client.clone();
            let url = app.url("/api/v1/posts");
            tokio::spawn(async move {
                for i in 0..25 {
                    let body = json!({"title": format!("w{w}-{i}"), "n": i});
                    let response = client.post(&url).json(&body).send().await.unwrap();
                    assert_eq!(response.status(), 201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let over_ws: Vec<i64> = ws
        .events(100)
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    let over_sse = sse.events(100).await;
    let sse_seqs: Vec<i64> = over_sse
        .iter()
        .map(|e| e.data["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(over_ws, sse_seqs, "both transports carry the same sequence");
    assert!(
        over_sse.iter().all(|e| e.id == e.data["seq"].as_i64()),
        "the SSE id is the sequence"
    );
    let start = ready["seq"].as_i64().unwrap();
    let expected: Vec<i64> = (start + 1..=start + 100).collect();
    assert_eq!(
        over_ws, expected,
        "every event, in order, no gap, no duplicate"
    );
}

#[tokio::test]
async fn changes_are_announced_by_what_they_do_to_each_subscription() {
    let app = spawn_app(SCHEMA).await;
    let subs = json!([
        {"id": "big", "collection": "posts", "filter": "n > 5", "fields": ["n"]},
        sub("all", "posts"),
    ]);
    let (mut ws, _) = Ws::connect(&app, Some(&app.admin_token), None, subs).await;
    ws.expect("subscribed").await;
    ws.expect("subscribed").await;

    let post = create(&app, "posts", json!({"title": "small", "n": 1})).await;
    let frame = ws.expect("event").await;
    assert_eq!(frame["id"], post["id"]);
    assert_eq!(announced(&frame, "big"), None, "{frame}");
    let (op, record) = announced(&frame, "all").unwrap();
    assert_eq!(op, "create");
    assert_eq!(record["title"], "small");

    patch(&app, "posts", &post["id"], json!({"n": 10})).await;
    let frame = ws.expect("event").await;
    let (op, record) = announced(&frame, "big").unwrap();
    assert_eq!(op, "enter");
    assert_eq!(
        record,
        json!({"id": post["id"], "n": 10}),
        "only the selected fields and id"
    );
    assert_eq!(announced(&frame, "all").unwrap().0, "update");
    assert_eq!(frame["version"], 2);

    patch(&app, "posts", &post["id"], json!({"n": 11})).await;
    let frame = ws.expect("event").await;
    assert_eq!(announced(&frame, "big").unwrap().0, "update");

    patch(&app, "posts", &post["id"], json!({"n": 2})).await;
    let frame = ws.expect("event").await;
    assert_eq!(announced(&frame, "big").unwrap().0, "leave");
    assert_eq!(announced(&frame, "all").unwrap().0, "update");

    delete(&app, "posts", &post["id"]).await;
    let frame = ws.expect("event").await;
    // A hard delete keeps no last state: a subscriber that may read every record hears of it
    // on every subscription of the collection (harmless for one that no longer holds it).
    assert_eq!(announced(&frame, "big").unwrap().0, "delete");
    let (op, record) = announced(&frame, "all").unwrap();
    assert_eq!((op.as_str(), record), ("delete", Value::Null));

    // Unsubscribed: no more announcements for `big`, and no frame at all once nothing matches.
    ws.send(json!({"type": "unsubscribe", "id": "all"})).await;
    ws.expect("unsubscribed").await;
    create(&app, "posts", json!({"title": "quiet", "n": 0})).await;
    let loud = create(&app, "posts", json!({"title": "loud", "n": 50})).await;
    let frame = ws.expect("event").await;
    assert_eq!(
        frame["id"], loud["id"],
        "the quiet post matched nothing: {frame}"
    );
    let _ = marker(&app).await;
}

#[tokio::test]
async fn idle_connections_get_heartbeats() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let app = crate::helpers::spawn_app_with(SCHEMA, |c| c.realtime.heartbeat_secs = 1).await;
    let (mut ws, ready) = Ws::connect(&app, None, None, json!([])).await;
    assert_eq!(ready["heartbeat_ms"], 1000);
    let ping = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Ping(_))) = ws.socket.next().await {
                return;
            }
        }
    })
    .await;
    assert!(ping.is_ok(), "a WebSocket ping within 5 s");
    let mut response = Sse::request(&app, "", None, None).await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.lines().any(|l| l.starts_with(':')) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("an SSE comment within 5 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// A WebSocket whose subscriptions share their batches with other connections is served by a
/// direct writer while it has nothing of its own to do; its own messages take it back and it
/// parks again. Pings, a new subscription and an unsubscribe in the middle of a stream of writes
/// lose, repeat or reorder nothing.
#[tokio::test]
async fn a_websocket_that_talks_while_writes_stream_misses_nothing() {
    let app = spawn_app(SCHEMA).await;
    let (mut ws, ready) = Ws::connect(
        &app,
        Some(&app.admin_token),
        None,
        json!([sub("p", "posts")]),
    )
    .await;
    ws.expect("subscribed").await;
    // A second connection alike, so that batches are shared.
    let (mut other, _) = Ws::connect(
        &app,
        Some(&app.admin_token),
        None,
        json!([sub("p", "posts")]),
    )
    .await;
    other.expect("subscribed").await;
    let writer = {
        let client = app.client.clone();
        let url = app.url("/api/v1/posts");
        tokio::spawn(async move {
            for i in 0..60 {
                let body = json!({"title": format!("post {i}"), "n": i});
                let response = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 201);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let mut frames = Vec::new();
    for _ in 0..3 {
        ws.send(json!({"type": "ping"})).await;
        frames.push(ws.next().await);
    }
    ws.send(json!({"type": "subscribe", "id": "q", "collection": "posts"}))
        .await;
    for _ in 0..3 {
        frames.push(ws.next().await);
    }
    ws.send(json!({"type": "unsubscribe", "id": "p"})).await;
    writer.await.unwrap();
    let marker = marker(&app).await;
    frames.extend(ws.events_until_any(&marker).await);
    let kinds = |kind: &str| frames.iter().filter(|f| f["type"] == kind).count();
    assert_eq!(kinds("pong"), 3, "{frames:?}");
    assert_eq!(kinds("subscribed"), 1, "{frames:?}");
    assert_eq!(kinds("unsubscribed"), 1, "{frames:?}");
    let seqs: Vec<i64> = frames
        .iter()
        .filter(|f| f["type"] == "event")
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    let start = ready["seq"].as_i64().unwrap();
    assert_eq!(
        seqs,
        (start + 1..=start + 60).collect::<Vec<_>>(),
        "every event, in order, no gap, no duplicate"
    );
    // The other connection, parked throughout, received the same.
    let theirs: Vec<i64> = other
        .events_until(&marker)
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(theirs, seqs);
}
