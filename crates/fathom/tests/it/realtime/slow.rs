//! Slow clients: a connection that stops reading fills its bounded queue, is sent a `lagged`
//! frame with its resume point and closed, while writers and a healthy subscriber carry on at
//! full speed; the resume point is exact (resuming from it misses nothing).

use serde_json::{Value, json};

use super::support::{SCHEMA, Sse, Ws, sub};
use crate::helpers::{TestApp, spawn_app_with};

/// Enough data that neither socket buffers nor the queue can hold it (about 19 MB of frames),
/// written in bursts small enough for a reading subscriber's queue.
const BATCHES: usize = 60;
const PER_BATCH: usize = 10;

async fn write_blobs(app: &TestApp) {
    let data = "x".repeat(32 * 1024);
    for _ in 0..BATCHES {
        let operations: Vec<Value> = (0..PER_BATCH)
            .map(|_| json!({"op": "create", "collection": "blobs", "body": {"data": data}}))
            .collect();
        let response = app
            .post_json("/api/v1/batch", &json!({"operations": operations}))
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
}

#[tokio::test]
async fn a_client_that_falls_behind_is_told_it_lagged_and_may_resume() {
    let app = spawn_app_with(SCHEMA, |c| c.realtime.queue = 64).await;
    let subs = json!([sub("b", "blobs")]);
    let (mut slow, _) = Ws::connect(&app, None, None, subs.clone()).await;
    slow.expect("subscribed").await;
    let (mut healthy, ready) = Ws::connect(&app, None, None, subs.clone()).await;
    healthy.expect("subscribed").await;
    let start = ready["seq"].as_i64().unwrap();
    let total = BATCHES * PER_BATCH;
    let reader = tokio::spawn(async move {
        let events = healthy.events(total).await;
        events
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect::<Vec<_>>()
    });
    write_blobs(&app).await;
    let seen = reader.await.unwrap();
    assert_eq!(
        seen,
        (start + 1..=start + total as i64).collect::<Vec<_>>(),
        "the healthy subscriber missed nothing"
    );

    // The slow client now reads: what its queue held, then the lagged frame, then the close.
    let mut received = Vec::new();
    let lagged = loop {
        let frame = slow.next().await;
        match frame["type"].as_str().unwrap() {
            "event" => received.push(frame["seq"].as_i64().unwrap()),
            "lagged" => break frame,
            other => panic!("unexpected {other}: {frame}"),
        }
    };
    assert!(slow.closed().await);
    assert_eq!(lagged["code"], "lagged");
    let resume = lagged["resume"].as_i64().unwrap();
    assert!(resume < start + total as i64, "it fell behind");
    assert_eq!(
        received,
        (start + 1..=resume).collect::<Vec<_>>(),
        "the resume point is its last event"
    );
    let (mut again, _) = Ws::connect(&app, None, Some(resume), subs).await;
    again.expect("subscribed").await;
    let rest = again.events((start + total as i64 - resume) as usize).await;
    assert_eq!(rest.first().unwrap()["seq"], resume + 1);
    assert_eq!(rest.last().unwrap()["seq"], start + total as i64);
}

/// The same over SSE: a stream that stops reading (its batches handed straight to its body
/// while it kept up) lags out with an exact resume point, while a WebSocket reader misses
/// nothing.
#[tokio::test]
async fn an_sse_stream_that_falls_behind_is_told_it_lagged_at_its_last_event() {
    let app = spawn_app_with(SCHEMA, |c| c.realtime.queue = 64).await;
    let subs = json!([sub("b", "blobs")]);
    let (mut slow, _) = Sse::open(&app, &subs, None, None).await;
    slow.expect("subscribed").await;
    let (mut healthy, ready) = Ws::connect(&app, None, None, subs.clone()).await;
    healthy.expect("subscribed").await;
    let start = ready["seq"].as_i64().unwrap();
    let total = BATCHES * PER_BATCH;
    let reader = tokio::spawn(async move { healthy.events(total).await.len() });
    write_blobs(&app).await;
    assert_eq!(
        reader.await.unwrap(),
        total,
        "the healthy subscriber missed nothing"
    );

    let mut received = Vec::new();
    let lagged = loop {
        let frame = slow.next().await;
        match frame.event.as_str() {
            "event" => received.push(frame.id.unwrap()),
            "lagged" => break frame,
            other => panic!("unexpected {other}: {frame:?}"),
        }
    };
    let resume = lagged.data["resume"].as_i64().unwrap();
    assert!(resume < start + total as i64, "it fell behind");
    assert_eq!(
        received,
        (start + 1..=resume).collect::<Vec<_>>(),
        "the resume point is its last event"
    );
    assert!(
        slow.try_next(std::time::Duration::from_secs(5))
            .await
            .is_none(),
        "the stream ends after the lagged frame"
    );
}
