//! The lost-update race: 50 clients read the same record and PATCH it at once with the same
//! `If-Match`. The check is part of the write's own statement, so exactly one wins (200) and the
//! other 49 get 412 with the winner's ETag; the record shows the winner's change. On SQLite and
//! on PostgreSQL (where the writers run on separate pooled connections, concurrently).

use std::sync::Arc;

use serde_json::json;

use super::conditional::{SCHEMA, create, etag_of};
use crate::helpers::{assert_problem, json_with_status, spawn_app};

const RACERS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_patches_with_one_if_match_make_one_winner() {
    let app = Arc::new(spawn_app(SCHEMA).await);
    for kind in ["notes", "drafts"] {
        let (id, etag) = create(&app, kind, json!({"body": "start"})).await;
        let path = format!("/api/v1/{kind}/{id}");
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for n in 0..RACERS {
            let (app, path, etag, barrier) =
                (app.clone(), path.clone(), etag.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let request = app
                    .client
                    .patch(app.url(&path))
                    .header("if-match", &etag)
                    .json(&json!({"body": format!("racer {n}")}));
                barrier.wait().await;
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let tag = etag_of(&response);
                (n, status, tag, response)
            }));
        }
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for task in tasks {
            let (n, status, tag, response) = task.await.unwrap();
            match status {
                200 => winners.push((n, tag)),
                412 => {
                    assert_problem(response, 412, "precondition_failed").await;
                    losers.push(tag);
                }
                other => panic!("racer {n} got {other}: {}", response.text().await.unwrap()),
            }
        }
        assert_eq!(winners.len(), 1, "{kind}: exactly one PATCH wins");
        assert_eq!(losers.len(), RACERS - 1);
        let (winner, winning_tag) = &winners[0];
        assert_eq!(*winning_tag, format!("\"{id}.2\""));
        assert!(
            losers.iter().all(|t| t == winning_tag),
            "every 412 names the winner's ETag"
        );
        let stored = json_with_status(app.get(&path).await, 200).await;
        assert_eq!(stored["data"]["body"], format!("racer {winner}"));
        assert_eq!(stored["data"]["version"], 2);
    }
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every racer has finished")
    };
    app.stop().await;
}
