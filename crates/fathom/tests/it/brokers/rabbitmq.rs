//! RabbitMQ: events reach the exchange in sequence order, persistent, with `message_id` = the
//! event id and the routing key `<collection>.<operation>`, hidden fields stripped.

use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};

use super::support::{SCHEMA, amqp_url, feed, rabbitmq_sink, unique, wait_drained};
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
