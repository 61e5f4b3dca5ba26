//! Snapshot then changes: a subscription asks for the records matching now and receives them
//! with the sequence they reflect, then every later change, while writers race the snapshot.
//! Applying the snapshot and then each event whose version is newer reproduces exactly what REST
//! lists afterwards, and no event repeats a version the snapshot already held.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::support::{SCHEMA, Ws, create, marker};
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_snapshot_and_the_changes_after_it_add_up_to_the_current_state() {
    let app = spawn_app(SCHEMA).await;
    let mut seeded = Vec::new();
    for i in 0..30 {
        seeded.push(
            create(&app, "posts", json!({"title": format!("s{i}"), "n": i})).await["id"].clone(),
        );
    }
    let writer = {
        let client = app.client.clone();
        let base = app.url("/api/v1/posts");
        let seeded = seeded.clone();
        tokio::spawn(async move {
            for i in 0..40_usize {
                let response = if i % 2 == 0 {
                    client
                        .post(&base)
                        .json(&json!({"title": format!("w{i}"), "n": 100 + i}))
                        .send()
                        .await
                } else {
                    let id = seeded[i % seeded.len()].as_str().unwrap().to_owned();
                    client
                        .patch(format!("{base}/{id}"))
                        .json(&json!({"n": 1000 + i}))
                        .send()
                        .await
                };
                assert!(response.unwrap().status().is_success());
            }
        })
    };
    let subscription = json!([{"id": "s", "collection": "posts", "filter": "title != \"marker\"", "snapshot": {"limit": 1000}}]);
    let (mut ws, _) = Ws::connect(&app, Some(&app.admin_token), None, json!([])).await;
    let mut message = subscription[0].clone();
    message["type"] = json!("subscribe");
    ws.send(message).await;
    let snapshot = ws.expect("snapshot").await;
    let subscribed = ws.expect("subscribed").await;
    assert_eq!(
        snapshot["seq"], subscribed["seq"],
        "the stream continues from the snapshot"
    );
    assert_eq!(snapshot["more"], false);
    let mut state: BTreeMap<String, Value> = BTreeMap::new();
    for record in snapshot["records"].as_array().unwrap() {
        state.insert(record["id"].as_str().unwrap().to_owned(), record.clone());
    }
    writer.await.unwrap();
    // A marker outside the filter: the marker subscription is the connection's own `m`.
    ws.send(json!({"type": "subscribe", "id": "m", "collection": "posts", "filter": "title = \"marker\""})).await;
    // Events still arriving for `s` come before the acknowledgement.
    let mut events = Vec::new();
    loop {
        let frame = ws.next().await;
        if frame["type"] == "subscribed" {
            break;
        }
        events.push(frame);
    }
    let marker = marker(&app).await;
    events.extend(ws.events_until(&marker).await);
    let mut stale = Vec::new();
    for frame in events {
        assert_eq!(frame["type"], "event", "{frame}");
        assert!(frame["seq"].as_i64() > snapshot["seq"].as_i64(), "{frame}");
        for m in frame["matches"].as_array().unwrap() {
            let id = frame["id"].as_str().unwrap().to_owned();
            match m["op"].as_str().unwrap() {
                "create" | "update" | "enter" => {
                    let held = state
                        .get(&id)
                        .and_then(|r| r["version"].as_i64())
                        .unwrap_or(0);
                    if m["record"]["version"].as_i64().unwrap() <= held {
                        stale.push(frame.clone());
                    }
                    state.insert(id, m["record"].clone());
                }
                _ => {
                    state.remove(&id);
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "events the snapshot already held: {stale:?}"
    );
    let listed = app
        .get("/api/v1/posts?limit=100&filter=title%20!%3D%20%22marker%22")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let listed: BTreeMap<String, Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(state.len(), 50);
    assert_eq!(state, listed, "snapshot + changes = the current state");
}

#[tokio::test]
async fn a_record_of_the_snapshot_deleted_right_after_is_announced() {
    let app = spawn_app(SCHEMA).await;
    let post = create(&app, "posts", json!({"title": "doomed"})).await;
    let subscription = json!([{"id": "s", "collection": "posts", "snapshot": {"limit": 10}}]);
    let (mut ws, _) = Ws::connect(&app, None, None, subscription).await;
    let snapshot = ws.expect("snapshot").await;
    assert_eq!(snapshot["records"][0]["id"], post["id"]);
    ws.expect("subscribed").await;
    super::support::delete(&app, "posts", &post["id"]).await;
    let frame = ws.expect("event").await;
    assert_eq!(frame["id"], post["id"]);
    assert_eq!(frame["matches"][0]["op"], "delete", "{frame}");
}
