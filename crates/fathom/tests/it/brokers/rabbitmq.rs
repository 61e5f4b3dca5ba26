//! RabbitMQ: events reach the exchange in sequence order, persistent, with `message_id` = the
//! event id and the routing key `<collection>.<operation>`, hidden fields stripped.

use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};

use super::support::{
    PrivateRabbitmq, SCHEMA, amqp_url, fast_leases, feed, rabbitmq_sink, unique, wait_drained,
    wait_for_sinks,
};
use crate::helpers::spawn_app_with;

/// A queue bound to every routing key of `exchange` (declared as the sink declares it), made
/// before the server starts so that no event finds the exchange without a queue.
pub async fn bound_queue(url: &str, exchange: &str) -> (Connection, Channel, String) {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ answers");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("exchange");
    let queue = unique("q");
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    (connection, channel, queue)
}

/// The message ids in the order they first arrived (a message published again keeps its id).
pub fn first_ids(messages: &[Received]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    messages
        .iter()
        .map(|m| m.message_id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// A server publishing to `sink`, with short leases (a sink that fails retries soon).
async fn spawn_with_sink(sink: fathom::config::RabbitmqSinkConfig) -> crate::helpers::TestApp {
    spawn_app_with(SCHEMA, |c| {
        fast_leases(c);
        c.brokers.rabbitmq.push(sink);
    })
    .await
}

/// A message as the test reads it: routing key, message id, delivery mode, body.
pub struct Received {
    pub routing_key: String,
    pub message_id: String,
    pub delivery_mode: Option<u8>,
    pub body: Value,
}

/// Takes `n` messages from `queue` (waiting up to 30 s for each), then checks nothing more
/// is there.
pub async fn take(channel: &Channel, queue: &str, n: usize) -> Vec<Received> {
    let mut out = Vec::new();
    let started = Instant::now();
    while out.len() < n {
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        match got {
            Some(message) => out.push(Received {
                routing_key: message.routing_key.as_str().to_owned(),
                message_id: message
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_default(),
                delivery_mode: *message.properties.delivery_mode(),
                body: serde_json::from_slice(&message.data).expect("JSON body"),
            }),
            None => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "only {} of {n} messages arrived",
                    out.len()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    out
}

#[tokio::test]
async fn events_reach_rabbitmq_in_order_persistent_with_their_ids_and_routing_keys() {
    let url = amqp_url();
    let exchange = unique("x");
    let (_connection, channel, queue) = bound_queue(&url, &exchange).await;
    let sink = rabbitmq_sink("main", &url, &exchange);
    let app = spawn_app_with(SCHEMA, |c| c.brokers.rabbitmq.push(sink)).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let post = app
            .create(
                "posts",
                &json!({ "title": format!("post {i}"), "secret": "s3cret" }),
            )
            .await;
        ids.push(post["id"].as_str().unwrap().to_owned());
    }
    let patched = app
        .patch_json(
            &format!("/api/v1/posts/{}", ids[0]),
            &json!({ "secret": "x" }),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        app.delete(&format!("/api/v1/posts/{}", ids[1]))
            .await
            .status(),
        204
    );
    app.create("notes", &json!({ "body": "a note" })).await;

    let reported = wait_drained(&app, 8).await;
    assert_eq!(reported[0]["kind"], "rabbitmq");
    let events = feed(&app).await;
    let messages = take(&channel, &queue, 8).await;
    for (event, message) in events.iter().zip(&messages) {
        assert_eq!(message.message_id, event["id"].as_str().unwrap());
        assert_eq!(
            message.routing_key,
            format!(
                "{}.{}",
                event["collection"].as_str().unwrap(),
                event["operation"].as_str().unwrap()
            )
        );
        assert_eq!(message.delivery_mode, Some(2), "persistent");
        assert_eq!(
            message.body["sequence"], event["sequence"],
            "in sequence order"
        );
        if let Some(record) = message.body["record"].as_object() {
            assert!(!record.contains_key("secret"), "hidden field published");
        }
    }
    // The update changed only the hidden field: the message names no field.
    assert_eq!(messages[5].body["changed"], json!([]));
    assert!(
        channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .is_none(),
        "one message per event, no more"
    );
}

/// Every message in `queue` now.
pub async fn take_all(channel: &Channel, queue: &str) -> Vec<Received> {
    let mut out = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        out.push(Received {
            routing_key: message.routing_key.as_str().to_owned(),
            message_id: message
                .properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            delivery_mode: *message.properties.delivery_mode(),
            body: serde_json::from_slice(&message.data).expect("JSON body"),
        });
    }
    out
}

#[tokio::test]
async fn a_rabbitmq_outage_builds_a_backlog_that_drains_in_order_when_it_returns() {
    let mut rabbitmq = PrivateRabbitmq::start();
    let exchange = unique("x");
    let (connection, _, queue) = bound_queue(&rabbitmq.url(), &exchange).await;
    let sink = rabbitmq_sink("outage", &rabbitmq.url(), &exchange);
    let app = spawn_with_sink(sink).await;
    for i in 0..3 {
        app.create("posts", &json!({ "title": format!("before {i}") }))
            .await;
    }
    wait_drained(&app, 3).await;

    rabbitmq.stop();
    drop(connection);
    for i in 0..20 {
        app.create("posts", &json!({ "title": format!("during {i}") }))
            .await;
    }
    let down = wait_for_sinks(&app, Duration::from_secs(60), "a failure reported", |s| {
        s[0]["failures"].as_u64().unwrap_or(0) >= 2 && s[0]["backlog"].as_i64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(down[0]["connected"], false);
    let ready = app.anonymous.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a broker outage does not make the node unready"
    );
    let ready: Value = ready.json().await.unwrap();
    assert!(
        ready["brokers"][0]["backlog"].as_i64().unwrap() > 0,
        "{ready}"
    );

    rabbitmq.resume();
    for i in 20..25 {
        app.create("posts", &json!({ "title": format!("during {i}") }))
            .await;
    }
    wait_drained(&app, 28).await;
    let connection = Connection::connect(&rabbitmq.url(), ConnectionProperties::default())
        .await
        .expect("RabbitMQ is back");
    let channel = connection.create_channel().await.unwrap();
    let messages = take_all(&channel, &queue).await;
    let events = feed(&app).await;
    // Every event, in order; a message published again after the outage (its confirm was lost
    // with the broker) carries the same message id.
    let firsts = first_ids(&messages);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(firsts, ids, "no loss, in order");
    assert!(
        messages.len() <= ids.len() + 1,
        "at most the one unconfirmed message again"
    );
}

/// Messages are mandatory: while no queue is bound, each comes back, the sink reports it and
/// keeps the events in its backlog; once a queue is bound, the backlog drains into it in order.
#[tokio::test]
async fn messages_no_queue_takes_stay_in_the_backlog_until_one_is_bound() {
    let url = amqp_url();
    let exchange = unique("x");
    let sink = rabbitmq_sink("unbound", &url, &exchange);
    let app = spawn_with_sink(sink).await;
    for i in 0..3 {
        app.create("posts", &json!({ "title": format!("early {i}") }))
            .await;
    }
    wait_for_sinks(&app, Duration::from_secs(30), "a returned message", |s| {
        s[0]["backlog"].as_i64().unwrap_or(0) > 0
            && s[0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("no queue"))
    })
    .await;

    let (_connection, channel, queue) = bound_queue(&url, &exchange).await;
    let events = feed(&app).await;
    let latest = events.last().and_then(|e| e["sequence"].as_i64()).unwrap();
    wait_drained(&app, latest).await;
    let messages = take_all(&channel, &queue).await;
    let firsts = first_ids(&messages);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(firsts, ids, "every event, in order, once bound");
}
