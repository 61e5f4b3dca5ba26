//! Resume: a client that reconnects with its last sequence gets exactly the events it missed,
//! then live ones: after a dropped connection (WebSocket `resume`, SSE `Last-Event-ID`) and
//! after a server restart on the same data.

use serde_json::{Value, json};

use super::support::{SCHEMA, Sse, Ws, create, sub};
use crate::helpers::spawn_app;

async fn posts(app: &crate::helpers::TestApp, range: std::ops::Range<i32>) -> Vec<Value> {
    let mut ids = Vec::new();
    for i in range {
        ids.push(
            create(app, "posts", json!({"title": format!("p{i}"), "n": i})).await["id"].clone(),
        );
    }
    ids
}

#[tokio::test]
async fn a_dropped_connection_resumes_without_gap_or_duplicate() {
    let app = spawn_app(SCHEMA).await;
    let subs = json!([sub("p", "posts")]);
    let (mut ws, _) = Ws::connect(&app, None, None, subs.clone()).await;
    ws.expect("subscribed").await;
    let first = posts(&app, 0..5).await;
    let events = ws.events(3).await;
    let last = events[2]["seq"].as_i64().unwrap();
    drop(ws);
    let missed = posts(&app, 5..10).await;

    let (mut ws, ready) = Ws::connect(&app, None, Some(last), subs.clone()).await;
    assert_eq!(ready["seq"], last, "{ready}");
    ws.expect("subscribed").await;
    let live_task = {
        let app_url = app.url("/api/v1/posts");
        let client = app.client.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 10..13 {
                let r = client
                    .post(&app_url)
                    .json(&json!({"title": format!("p{i}")}))
                    .send()
                    .await
                    .unwrap();
                ids.push(r.json::<Value>().await.unwrap()["data"]["id"].clone());
            }
            ids
        })
    };
    let live = live_task.await.unwrap();
    let replayed = ws.events(2 + 5 + 3).await;
    let ids: Vec<Value> = replayed.iter().map(|e| e["id"].clone()).collect();
    let mut expected = first[3..].to_vec();
    expected.extend(missed);
    expected.extend(live);
    assert_eq!(ids, expected);
    let seqs: Vec<i64> = replayed
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (last + 1..=last + 10).collect::<Vec<_>>());

    // SSE, with the header a browser sends.
    let (mut sse, ready) = Sse::open(&app, &subs, None, Some(last)).await;
    assert_eq!(ready.id, Some(last));
    sse.expect("subscribed").await;
    let again: Vec<Value> = sse
        .events(10)
        .await
        .iter()
        .map(|e| e.data["id"].clone())
        .collect();
    assert_eq!(again, expected);
}

#[tokio::test]
async fn a_client_resumes_after_a_server_restart() {
    let app = spawn_app(SCHEMA).await;
    let subs = json!([sub("p", "posts")]);
    let (mut ws, _) = Ws::connect(&app, None, None, subs.clone()).await;
    ws.expect("subscribed").await;
    posts(&app, 0..3).await;
    let last = ws.events(3).await[2]["seq"].as_i64().unwrap();
    posts(&app, 3..6).await;
    let (mut sse, _) = Sse::open(&app, &subs, None, Some(last)).await;
    sse.expect("subscribed").await;
    // The stop sends every stream its resume point before closing it.
    let stopping = tokio::spawn(async move {
        let app = app;
        app.restart(SCHEMA).await
    });
    let mut closing = ws.next().await;
    while closing["type"] == "event" {
        closing = ws.next().await;
    }
    assert_eq!(closing["type"], "closing", "{closing}");
    assert_eq!(closing["code"], "shutting_down");
    assert!(closing["resume"].as_i64().unwrap() >= last);
    let mut sse_closing = sse.next().await;
    while sse_closing.event == "event" {
        sse_closing = sse.next().await;
    }
    assert_eq!(sse_closing.event, "closing", "{sse_closing:?}");
    assert_eq!(sse_closing.data["code"], "shutting_down");
    assert_eq!(sse_closing.id, sse_closing.data["resume"].as_i64());
    let app = stopping.await.unwrap();
    let missed = posts(&app, 6..8).await;
    let (mut ws, _) = Ws::connect(&app, None, Some(last), subs).await;
    ws.expect("subscribed").await;
    let events = ws.events(5).await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (last + 1..=last + 5).collect::<Vec<_>>());
    assert_eq!(events[3]["id"], missed[0]);
}

#[tokio::test]
async fn a_resume_point_past_retention_requires_a_resync() {
    let app = crate::helpers::spawn_app_with(SCHEMA, |c| c.events.retention_count = 5).await;
    posts(&app, 0..20).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.store.events_after(0, 1, None).await.unwrap().oldest <= 2 {
        assert!(tokio::time::Instant::now() < deadline, "the pruner ran");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut ws = Ws::open(&app).await;
    ws.send(json!({"type": "auth", "resume": 1})).await;
    let closing = ws.expect("closing").await;
    assert_eq!(closing["code"], "resync_required", "{closing}");
    assert!(ws.closed().await);
    let response = Sse::request(&app, "", None, Some(1)).await;
    crate::helpers::assert_problem(response, 410, "resync_required").await;
    // The latest sequence is always kept, so a client that holds it resumes.
    let latest = app.store.events_after(0, 1, None).await.unwrap().latest;
    let (_, ready) = Ws::connect(&app, None, Some(latest), json!([])).await;
    assert_eq!(ready["seq"], latest);
}

#[tokio::test]
async fn a_hard_delete_missed_while_away_is_announced_on_resume() {
    let app = spawn_app(SCHEMA).await;
    let subs = json!([{"id": "p", "collection": "posts", "filter": "n = 7"}]);
    let (mut ws, _) = Ws::connect(&app, None, None, subs.clone()).await;
    ws.expect("subscribed").await;
    let post = create(&app, "posts", json!({"title": "held", "n": 7})).await;
    let last = ws.expect("event").await["seq"].as_i64().unwrap();
    drop(ws);
    super::support::delete(&app, "posts", &post["id"]).await;
    let (mut ws, _) = Ws::connect(&app, None, Some(last), subs).await;
    ws.expect("subscribed").await;
    let frame = ws.expect("event").await;
    assert_eq!(frame["id"], post["id"]);
    assert_eq!(frame["matches"][0]["op"], "delete", "{frame}");
}
