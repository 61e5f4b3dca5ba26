//! Concurrent writers: every acknowledged create is stored exactly once, and paging sees each
//! record once.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;

use super::support::{id_of, list_all};
use crate::helpers::{TEST_SCHEMA, json_with_status, spawn_app, spawn_app_with};

const WRITERS: usize = 50;
const CREATES_PER_WRITER: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_writers_lose_and_duplicate_nothing() {
    // A load test of the writer, not of the rate limits: one administrator's 5,000 creates in
    // a few seconds are far past the default per-user write quota.
    let app = Arc::new(spawn_app_with(TEST_SCHEMA, |c| c.rate_limits.enabled = false).await);
    let mut tasks = Vec::with_capacity(WRITERS);
    for writer in 0..WRITERS {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(CREATES_PER_WRITER);
            for n in 0..CREATES_PER_WRITER {
                let body = json!({"body": format!("writer {writer} note {n}")});
                let response = app.post_json("/api/v1/notes", &body).await;
                let created = json_with_status(response, 201).await;
                ids.push(id_of(&created["data"]));
            }
            ids
        }));
    }
    let mut acknowledged = HashSet::new();
    for task in tasks {
        for id in task.await.expect("writer task finished") {
            assert!(
                acknowledged.insert(id),
                "two creates were answered with the same id"
            );
        }
    }
    let total = WRITERS * CREATES_PER_WRITER;
    assert_eq!(acknowledged.len(), total);

    let counted = json_with_status(app.get("/api/v1/notes?count=true&limit=1").await, 200).await;
    assert_eq!(counted["meta"]["page"]["total"], total);

    let listed = list_all(&app, "notes").await;
    assert_eq!(listed.len(), total, "paging returns every record once");
    let listed_ids: Vec<String> = listed.iter().map(id_of).collect();
    let distinct: HashSet<&String> = listed_ids.iter().collect();
    assert_eq!(distinct.len(), total, "no record appears on two pages");
    assert!(
        listed_ids.windows(2).all(|w| w[0] < w[1]),
        "pages are in ascending id order"
    );
    assert!(
        listed_ids.iter().all(|id| acknowledged.contains(id)),
        "every listed record was acknowledged"
    );

    // Every writer's notes are all there, with their bodies intact.
    let bodies: HashSet<&str> = listed
        .iter()
        .map(|r| r["body"].as_str().expect("body"))
        .collect();
    for writer in 0..WRITERS {
        for n in 0..CREATES_PER_WRITER {
            assert!(
                bodies.contains(format!("writer {writer} note {n}").as_str()),
                "writer {writer} note {n} is missing"
            );
        }
    }
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every writer task has finished")
    };
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_patches_of_one_record_each_count_once() {
    let app = Arc::new(spawn_app(TEST_SCHEMA).await);
    let item = app
        .create("items", &json!({"title": "Counter", "qty": 0}))
        .await;
    let path = Arc::new(format!("/api/v1/items/{}", id_of(&item)));
    let mut tasks = Vec::new();
    for n in 0..20 {
        let (app, path) = (Arc::clone(&app), Arc::clone(&path));
        tasks.push(tokio::spawn(async move {
            let response = app.patch_json(&path, &json!({"qty": n})).await;
            json_with_status(response, 200).await["data"]["version"]
                .as_i64()
                .expect("version")
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.expect("patch task finished"));
    }
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..=21).collect::<Vec<i64>>(),
        "each patch saw its own version"
    );
    let fetched = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(fetched["data"]["version"], 21);
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every patch task has finished")
    };
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_creates_of_one_unique_value_let_exactly_one_through() {
    let app = Arc::new(spawn_app(TEST_SCHEMA).await);
    let mut tasks = Vec::new();
    for n in 0..40 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            // Every other request also carries a valid, distinct code, so that failing and
            // succeeding writes share the same group commits.
            let code = if n % 2 == 0 {
                "ABC-1".to_owned()
            } else {
                format!("XYZ-{n}")
            };
            let response = app
                .post_json("/api/v1/items", &json!({"title": "Racer", "code": code}))
                .await;
            (n, response.status().as_u16())
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("create task finished"));
    }
    let clashing: Vec<u16> = statuses
        .iter()
        .filter(|(n, _)| n % 2 == 0)
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(
        clashing.iter().filter(|s| **s == 201).count(),
        1,
        "statuses {clashing:?}"
    );
    assert_eq!(
        clashing.iter().filter(|s| **s == 409).count(),
        19,
        "statuses {clashing:?}"
    );
    assert!(
        statuses
            .iter()
            .filter(|(n, _)| n % 2 == 1)
            .all(|(_, s)| *s == 201),
        "statuses {statuses:?}"
    );
    let list = json_with_status(app.get("/api/v1/items?count=true&limit=1").await, 200).await;
    assert_eq!(list["meta"]["page"]["total"], 21);
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every create task has finished")
    };
    app.stop().await;
}
