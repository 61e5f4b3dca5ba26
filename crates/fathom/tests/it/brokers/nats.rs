//! NATS JetStream: order, ids, subjects and hidden fields; de-duplication of a republished
//! event; a broker outage with writes continuing, drained in order when it returns.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::{
    PrivateNats, SCHEMA, fast_leases, feed, nats_sink, nats_url, sinks, stream_count,
    stream_messages, unique, wait_drained, wait_for_sinks,
};
use crate::helpers::{json_with_status, spawn_app_with};

/// Creates `n` posts (with a hidden field), updates the first and deletes the second.
async fn write_some(app: &crate::helpers::TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let post = app
            .create(
                "posts",
                &json!({ "title": format!("post {i}"), "secret": "s3cret" }),
            )
            .await;
        ids.push(post["id"].as_str().unwrap().to_owned());
    }
    let updated = app
        .patch_json(
            &format!("/api/v1/posts/{}", ids[0]),
            &json!({ "title": "first", "secret": "other" }),
        )
        .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(
        app.delete(&format!("/api/v1/posts/{}", ids[1]))
            .await
            .status(),
        204
    );
    ids
}

#[tokio::test]
async fn events_reach_jetstream_in_order_with_their_ids_and_subjects_and_no_hidden_field() {
    let url = nats_url();
    let (prefix, stream) = (unique("t"), unique("S"));
    let sink = nats_sink("main", &url, &prefix, &stream);
    let app = spawn_app_with(SCHEMA, |c| c.brokers.nats.push(sink)).await;
    wait_for_sinks(&app, Duration::from_secs(30), "publishing", |s| {
        s.len() == 1 && s[0]["role"] == "publishing"
    })
    .await;
    write_some(&app, 5).await;
    app.create("notes", &json!({ "body": "a note" })).await;

    let events = feed(&app).await;
    assert_eq!(events.len(), 8);
    let messages = stream_messages(&url, &stream, 8).await;
    assert_eq!(messages.len(), 8, "one message per event, no more");
    for (event, (subject, id, body)) in events.iter().zip(&messages) {
        assert_eq!(
            id,
            event["id"].as_str().unwrap(),
            "Nats-Msg-Id is the event id"
        );
        assert_eq!(
            subject,
            &format!(
                "{prefix}.{}.{}",
                event["collection"].as_str().unwrap(),
                event["operation"].as_str().unwrap()
            )
        );
        assert_eq!(body["sequence"], event["sequence"], "in sequence order");
        assert_eq!(body["id"], event["id"]);
        // The administrator's feed shows the hidden field; the broker never gets it.
        if let Some(record) = body["record"].as_object() {
            assert!(
                !record.contains_key("secret"),
                "hidden field published: {body}"
            );
        }
        assert!(
            !body["changed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "secret"),
            "hidden field named in changed: {body}"
        );
    }
    assert!(
        events[0]["record"]["secret"] == "s3cret",
        "the feed itself is unchanged"
    );
    assert_eq!(messages[5].0, format!("{prefix}.posts.update"));
    assert_eq!(messages[6].0, format!("{prefix}.posts.delete"));
    assert_eq!(messages[7].0, format!("{prefix}.notes.create"));

    let reported = wait_drained(&app, 8).await;
    assert_eq!(reported[0]["name"], "main");
    assert_eq!(reported[0]["kind"], "nats");
    assert_eq!(reported[0]["backlog"], 0);
    assert_eq!(reported[0]["breaker"], "closed");
    assert_eq!(reported[0]["connected"], true);
    let body = reported[0].to_string();
    assert!(!body.contains(&url), "the URL is never shown: {body}");
}

#[tokio::test]
async fn a_sink_publishes_only_its_collections_and_operations() {
    let url = nats_url();
    let (prefix, stream) = (unique("t"), unique("S"));
    let mut sink = nats_sink("creates", &url, &prefix, &stream);
    sink.collections = vec!["posts".into()];
    sink.operations = vec![fathom::config::OperationName::Create];
    let app = spawn_app_with(SCHEMA, |c| c.brokers.nats.push(sink)).await;
    write_some(&app, 3).await;
    app.create("notes", &json!({ "body": "not selected" }))
        .await;
    let last = app.create("posts", &json!({ "title": "last" })).await;
    wait_drained(&app, 7).await;
    let messages = stream_messages(&url, &stream, 4).await;
    let subjects: Vec<&str> = messages.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(subjects, vec![format!("{prefix}.posts.create"); 4]);
    assert_eq!(messages[3].2["record"]["id"], last["id"]);
}

#[tokio::test]
async fn a_rewound_cursor_republishes_and_jetstream_discards_the_duplicates() {
    let url = nats_url();
    let (prefix, stream) = (unique("t"), unique("S"));
    let sink = nats_sink("dedup", &url, &prefix, &stream);
    let app = spawn_app_with(SCHEMA, |c| c.brokers.nats.push(sink)).await;
    write_some(&app, 4).await;
    wait_drained(&app, 6).await;
    assert_eq!(stream_messages(&url, &stream, 6).await.len(), 6);
    let published_before: i64 = sinks(&app).await[0]["published"].as_i64().unwrap();

    // Replay everything: the sink publishes the six events again, with the same ids.
    app.store.cursor_set("nats:dedup", 0).await.unwrap();
    wait_for_sinks(&app, Duration::from_secs(30), "republished", |s| {
        s[0]["published"].as_i64().unwrap_or(0) >= published_before + 6
    })
    .await;
    app.create("posts", &json!({ "title": "after the replay" }))
        .await;
    wait_drained(&app, 7).await;
    let messages = stream_messages(&url, &stream, 7).await;
    assert_eq!(
        messages.len(),
        7,
        "the republished events were discarded by JetStream"
    );
    assert_eq!(stream_count(&url, &stream).await, 7);
    let sequences: Vec<i64> = messages
        .iter()
        .map(|m| m.2["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=7).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_broker_outage_builds_a_backlog_that_drains_in_order_when_it_returns() {
    let mut nats = PrivateNats::start();
    let stream = unique("S");
    let sink = nats_sink("outage", &nats.url(), "fathom", &stream);
    let app = spawn_app_with(SCHEMA, |c| {
        fast_leases(c);
        c.brokers.nats.push(sink);
    })
    .await;
    write_some(&app, 3).await;
    wait_drained(&app, 5).await;

    nats.stop();
    for i in 0..20 {
        app.create(
            "posts",
            &json!({ "title": format!("during the outage {i}") }),
        )
        .await;
    }
    // The backlog shows in the admin API and in /ready, which stays ready.
    let down = wait_for_sinks(&app, Duration::from_secs(30), "a failure reported", |s| {
        s[0]["failures"].as_u64().unwrap_or(0) >= 2 && s[0]["backlog"].as_i64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(down[0]["connected"], false);
    assert!(
        down[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    let ready = json_with_status(
        app.anonymous.get(app.url("/ready")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["brokers"][0]["name"], "outage");
    assert!(
        ready["brokers"][0]["backlog"].as_i64().unwrap() > 0,
        "{ready}"
    );

    // More writes while it is down, then it returns.
    for i in 20..30 {
        app.create(
            "posts",
            &json!({ "title": format!("during the outage {i}") }),
        )
        .await;
    }
    nats.resume();
    let drained = wait_drained(&app, 35).await;
    assert_eq!(drained[0]["backlog"], 0);
    assert_eq!(drained[0]["last_error"], Value::Null);
    let messages = stream_messages(&nats.url(), &stream, 35).await;
    let events = feed(&app).await;
    assert_eq!(messages.len(), events.len(), "no loss, no duplicate");
    for (event, message) in events.iter().zip(&messages) {
        assert_eq!(message.1, event["id"].as_str().unwrap());
        assert_eq!(message.2["sequence"], event["sequence"]);
    }
}

#[tokio::test]
async fn a_refused_message_is_never_overtaken_by_the_messages_sent_after_it() {
    // A stream that captures the posts but not the notes, made before the server starts.
    let url = nats_url();
    let (prefix, stream) = (unique("t"), unique("S"));
    let jetstream = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    let config = |subjects: &str| async_nats::jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{prefix}.{subjects}")],
        ..Default::default()
    };
    jetstream.create_stream(config("posts.>")).await.unwrap();
    let mut sink = nats_sink("guard", &url, &prefix, &stream);
    sink.stream = None;
    let app = spawn_app_with(SCHEMA, |c| {
        fast_leases(c);
        c.brokers.nats.push(sink);
    })
    .await;

    // One transaction, so one page: ten posts, a note, ten posts. The window has grown past
    // one message by the note, so posts after it are in flight when JetStream refuses it.
    let post =
        |title: String| json!({"op": "create", "collection": "posts", "body": {"title": title}});
    let mut operations: Vec<Value> = (0..10).map(|i| post(format!("before {i}"))).collect();
    operations.push(json!({"op": "create", "collection": "notes", "body": {"body": "no stream"}}));
    operations.extend((0..10).map(|i| post(format!("after {i}"))));
    json_with_status(
        app.post_json("/api/v1/batch", &json!({ "operations": operations }))
            .await,
        200,
    )
    .await;

    // The note is retried; the posts after it wait behind it instead of overtaking it.
    wait_for_sinks(
        &app,
        Duration::from_secs(30),
        "the note refused twice",
        |s| s[0]["failures"].as_u64().unwrap_or(0) >= 2,
    )
    .await;
    assert_eq!(
        stream_count(&url, &stream).await,
        10,
        "only the posts before the note are stored"
    );

    // Once a stream captures notes too, everything arrives, in sequence order.
    jetstream.update_stream(config(">")).await.unwrap();
    wait_drained(&app, 21).await;
    let messages = stream_messages(&url, &stream, 21).await;
    let sequences: Vec<i64> = messages
        .iter()
        .map(|m| m.2["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=21).collect::<Vec<_>>());
    assert_eq!(messages[10].0, format!("{prefix}.notes.create"));
}

#[tokio::test]
async fn a_sink_shows_whether_its_broker_answers_before_the_first_event() {
    let url = nats_url();
    let prefix = unique("t");
    let up = nats_sink("up", &url, &prefix, &unique("S"));
    // Nothing listens on this port.
    let nowhere = format!("nats://127.0.0.1:{}", super::support::free_port());
    let mut down = nats_sink("down", &nowhere, &prefix, &unique("S"));
    down.ack_timeout_ms = 500;
    let app = spawn_app_with(SCHEMA, |c| {
        c.brokers.nats.push(up);
        c.brokers.nats.push(down);
    })
    .await;
    let named = |sinks: &[Value], name: &str| {
        sinks
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    let shown = wait_for_sinks(&app, Duration::from_secs(30), "one up, one down", |s| {
        named(s, "up")["connected"] == true
            && named(s, "down")["last_error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
    })
    .await;
    assert!(feed(&app).await.is_empty(), "no event was written");
    assert_eq!(named(&shown, "down")["connected"], false);
    assert_eq!(named(&shown, "up")["last_error"], Value::Null);
    let ready = json_with_status(
        app.anonymous.get(app.url("/ready")).send().await.unwrap(),
        200,
    )
    .await;
    let brokers = ready["brokers"].as_array().cloned().unwrap_or_default();
    assert_eq!(named(&brokers, "up")["connected"], true, "{ready}");
    assert_eq!(named(&brokers, "down")["connected"], false, "{ready}");
}
