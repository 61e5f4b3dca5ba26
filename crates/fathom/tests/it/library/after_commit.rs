//! After-commit hooks over a real server: every event once and in order, a collection filter,
//! retries of a hook that fails or panics without holding up the others, and writes a hook
//! makes as the system. Runs on PostgreSQL too (`FATHOM_TEST_BACKEND=postgres`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use fathom::{AfterCommit, CommittedEvent, HookContext, HookFailure};
use serde_json::{Map, json};

use super::support::{Flaky, Gated, Recorder, Seen, outbox, spawn_built};
use crate::helpers::TEST_SCHEMA;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_sees_every_event_once_in_sequence_order() {
    let (all, categories) = (Seen::default(), Seen::default());
    let app = spawn_built(
        TEST_SCHEMA,
        |_| {},
        |b| {
            b.after_commit("all", Recorder(all.clone())).after_commit_on(
                "categories-only",
                ["categories"],
                Recorder(categories.clone()),
            )
        },
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let note = app.create("notes", &json!({ "body": format!("note {i}") })).await;
        ids.push(note["id"].as_str().unwrap().to_owned());
    }
    for i in 0..5 {
        app.create("categories", &json!({ "name": format!("c{i}") }))
            .await;
    }
    for id in &ids[..5] {
        let response = app
            .patch_json(&format!("/api/v1/notes/{id}"), &json!({ "body": "changed" }))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(app.delete(&format!("/api/v1/notes/{id}")).await.status(), 204);
    }
    let events = outbox(&app).await;
    assert_eq!(events.len(), 45);
    let seen = all.wait_for(events.len()).await;
    // Nothing more arrives later (no duplicate).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(all.get(), events, "every event once, in order");
    assert_eq!(seen, events);

    let category_events: Vec<i64> = app
        .store
        .events_after(0, 1000, None)
        .await
        .unwrap()
        .events
        .iter()
        .filter(|e| e.collection == "categories")
        .map(|e| e.sequence)
        .collect();
    assert_eq!(categories.wait_for(5).await, category_events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_that_fails_or_panics_is_retried_and_never_blocks_another() {
    let (steady, flaky, gated) = (Seen::default(), Seen::default(), Seen::default());
    let failures = Arc::new(AtomicU32::new(0));
    let (open, attempts) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU32::new(0)));
    let app = spawn_built(
        TEST_SCHEMA,
        |_| {},
        |b| {
            b.after_commit(
                "gated",
                Gated {
                    open: open.clone(),
                    attempts: attempts.clone(),
                    seen: gated.clone(),
                },
            )
            .after_commit(
                "flaky",
                Flaky {
                    seen: flaky.clone(),
                    failures: failures.clone(),
                },
            )
            .after_commit("steady", Recorder(steady.clone()))
        },
    )
    .await;
    for i in 0..12 {
        app.create("notes", &json!({ "body": format!("note {i}") }))
            .await;
    }
    let events = outbox(&app).await;
    assert_eq!(events.len(), 12);
    // The steady hook and the flaky one get through every event while the gated one is stuck
    // on the first.
    assert_eq!(steady.wait_for(12).await, events);
    assert_eq!(flaky.wait_for(12).await, events, "retried until handled, in order");
    assert!(
        failures.load(Ordering::SeqCst) >= 4 * 2 + 2,
        "every third event failed twice, every fifth panicked once"
    );
    assert!(gated.get().is_empty());
    assert!(
        attempts.load(Ordering::SeqCst) >= 2,
        "the gated hook is retried"
    );
    open.store(true, Ordering::SeqCst);
    assert_eq!(gated.wait_for(12).await, events);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(flaky.get(), events, "a panic or an error never handles an event twice");
}

/// Writes an `audit` note (as the system) for every item created.
struct Follower;

#[async_trait::async_trait]
impl AfterCommit for Follower {
    async fn handle(&self, event: &CommittedEvent, ctx: &HookContext) -> Result<(), HookFailure> {
        let mut values = Map::new();
        values.insert(
            "body".into(),
            json!(format!("{} {}", event.operation.as_str(), event.record_id)),
        );
        ctx.create("notes", event.tenant.as_deref(), &values).await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_writes_records_as_the_system() {
    let app = spawn_built(
        TEST_SCHEMA,
        |_| {},
        |b| b.after_commit_on("follower", ["categories"], Follower),
    )
    .await;
    let category = app.create("categories", &json!({ "name": "tools" })).await;
    let expected = format!("create {}", category["id"].as_str().unwrap());
    let started = std::time::Instant::now();
    loop {
        let body: serde_json::Value = app.get("/api/v1/notes").await.json().await.unwrap();
        let notes = body["data"].as_array().unwrap();
        if let Some(note) = notes.first() {
            assert_eq!(notes.len(), 1);
            assert_eq!(note["body"], expected.as_str());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no note was written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = app.store.events_after(0, 10, None).await.unwrap().events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].actor, fathom_store::Actor::System);
}
