//! A `fathom serve` process killed with SIGKILL while events are being published: after its
//! restart every event arrives in the JetStream stream, exactly once (the events published
//! again after the restart carry the ids JetStream has already seen), in sequence order.

use std::time::{Duration, Instant};

use fathom_store::Store;

use super::support::{
    nats_url, process_drained, stream_messages, unique, write_posts, write_project,
};
use crate::helpers::{database_env, scratch_database_blocking, spawn_server_process_with_env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_mid_stream_and_a_restart_every_event_arrives_once_in_order() {
    let url = nats_url();
    let (prefix, stream) = (unique("t"), unique("S"));
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &url, &prefix, &stream);
    let database = scratch_database_blocking();
    let env = database_env(database.as_ref());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut server = spawn_server_process_with_env(dir.path(), &[], &env);
    let writer = tokio::spawn(write_posts(server.url(""), 10_000));
    // Kill it once it has written (and is publishing) a good number of events.
    let client = async_nats::connect(url.as_str()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let started = Instant::now();
    loop {
        let published = match jetstream.get_stream(&stream).await {
            Ok(s) => s.get_info().await.map_or(0, |i| i.state.messages),
            Err(_) => 0,
        };
        if published >= 30 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing was published"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let written = writer.await.unwrap();
    // 30 events published means 30 writes committed; the writer, one write at a time, has the
    // answers of all but the last (the kill may come between a commit and its answer).
    assert!(written >= 29, "{written}");

    let server = spawn_server_process_with_env(dir.path(), &[], &env);
    assert_eq!(write_posts(server.url(""), 20).await, 20);
    process_drained(&server).await;
    server.terminate();
    drop(server);

    let store = match &database {
        Some(database) => Store::open_postgres(fathom_store::PostgresOptions::new(database.url()))
            .await
            .unwrap(),
        None => Store::open_sqlite(fathom_store::SqliteOptions::new(
            dir.path().join("fathom_data").join("fathom.db"),
        ))
        .await
        .unwrap(),
    };
    let events = store.events_after(0, 100_000, None).await.unwrap().events;
    assert!(events.len() >= written + 20);
    let messages = stream_messages(&url, &stream, events.len() as u64).await;
    assert_eq!(
        messages.len(),
        events.len(),
        "every event once: JetStream discarded what was published again after the restart"
    );
    for (event, (_, id, body)) in events.iter().zip(&messages) {
        assert_eq!(id, &event.id.to_string());
        assert_eq!(body["sequence"], event.sequence, "in sequence order");
    }
}

/// The same with RabbitMQ, which does not de-duplicate: after the restart the queue holds every
/// event in order, and a message appears twice only with the same `message_id` (the page the
/// killed server had published but not yet recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_rabbitmq_gets_every_event_with_duplicates_only_by_message_id() {
    let url = super::support::amqp_url();
    let exchange = unique("x");
    let (_connection, channel, queue) = super::rabbitmq::bound_queue(&url, &exchange).await;
    let dir = tempfile::tempdir().unwrap();
    super::support::write_project_with(
        dir.path(),
        &format!(
            "[[brokers.rabbitmq]]\nname = \"crash\"\nurl = \"{url}\"\nexchange = \"{exchange}\"\n"
        ),
    );
    let database = scratch_database_blocking();
    let env = database_env(database.as_ref());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut server = spawn_server_process_with_env(dir.path(), &[], &env);
    let writer = tokio::spawn(write_posts(server.url(""), 10_000));
    // Kill it once it is well into publishing.
    let started = Instant::now();
    let mut received = Vec::new();
    while received.len() < 30 {
        received.extend(super::rabbitmq::take(&channel, &queue, 1).await);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing was published"
        );
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let written = writer.await.unwrap();

    let server = spawn_server_process_with_env(dir.path(), &[], &env);
    assert_eq!(write_posts(server.url(""), 20).await, 20);
    process_drained(&server).await;
    server.terminate();
    drop(server);

    let store = match &database {
        Some(database) => Store::open_postgres(fathom_store::PostgresOptions::new(database.url()))
            .await
            .unwrap(),
        None => Store::open_sqlite(fathom_store::SqliteOptions::new(
            dir.path().join("fathom_data").join("fathom.db"),
        ))
        .await
        .unwrap(),
    };
    let events = store.events_after(0, 100_000, None).await.unwrap().events;
    assert!(events.len() >= written + 20);
    received.extend(super::rabbitmq::take_all(&channel, &queue).await);
    let firsts = super::rabbitmq::first_ids(&received);
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        firsts, ids,
        "every event, in order; repeats only of ids already seen"
    );
    for message in &received {
        let event = events
            .iter()
            .find(|e| e.id.to_string() == message.message_id)
            .unwrap();
        assert_eq!(
            message.body["sequence"], event.sequence,
            "a repeat is the same event"
        );
    }
}
