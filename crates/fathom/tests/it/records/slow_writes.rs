//! Writes slower than the request time limit. Once a write has been handed to the database, the
//! server waits for its outcome (up to `server.write_timeout_secs`) and answers the truth; past
//! that it answers 504 `write_outcome_unknown`, never the "retry" of a `request_timeout`. The
//! slowness is real: another connection holds the database's write lock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TEST_SCHEMA, TestApp, assert_problem, json_with_status, spawn_app_with};

/// A write lock on the test database, held from outside the server until [`HeldLock::release`].
/// SQLite: the database's write lock (`BEGIN IMMEDIATE`); PostgreSQL: `table` locked in SHARE
/// mode, which blocks inserts, updates and deletes but lets reads through.
enum HeldLock {
    Sqlite {
        release: std::sync::mpsc::Sender<()>,
        thread: std::thread::JoinHandle<()>,
    },
    Postgres(tokio_postgres::Client),
}

impl HeldLock {
    async fn take(app: &TestApp, table: &str) -> Self {
        if let Some(database) = &app.database {
            let (client, connection) =
                tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
                    .await
                    .expect("a second connection to the test database");
            tokio::spawn(connection);
            client
                .batch_execute(&format!("BEGIN; LOCK TABLE \"{table}\" IN SHARE MODE"))
                .await
                .expect("the table lock");
            return Self::Postgres(client);
        }
        let path = app.data_dir.path().join("fathom.db");
        let (held, is_held) = std::sync::mpsc::channel();
        let (release, on_release) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(path).expect("a second connection");
            conn.busy_timeout(Duration::from_secs(5))
                .expect("busy timeout");
            conn.execute_batch("BEGIN IMMEDIATE")
                .expect("the write lock");
            held.send(()).expect("report the lock");
            let _ = on_release.recv();
            conn.execute_batch("COMMIT").expect("release the lock");
        });
        tokio::task::spawn_blocking(move || is_held.recv())
            .await
            .expect("lock thread")
            .expect("the lock was taken");
        Self::Sqlite { release, thread }
    }

    async fn release(self) {
        match self {
            Self::Sqlite { release, thread } => {
                release.send(()).expect("release");
                tokio::task::spawn_blocking(move || thread.join())
                    .await
                    .expect("join")
                    .expect("lock thread ended cleanly");
            }
            Self::Postgres(client) => client.batch_execute("COMMIT").await.expect("unlock"),
        }
    }
}

/// A server whose requests may take 1 s, and writes `write_secs` in all.
async fn spawn_with_limits(write_secs: u64) -> Arc<TestApp> {
    Arc::new(
        spawn_app_with(TEST_SCHEMA, |config| {
            config.server.request_timeout_secs = 1;
            config.server.write_timeout_secs = write_secs;
        })
        .await,
    )
}

fn post_in_background(
    app: &Arc<TestApp>,
    path: &'static str,
    body: Value,
) -> tokio::task::JoinHandle<reqwest::Response> {
    let app = Arc::clone(app);
    tokio::spawn(async move { app.post_json(path, &body).await })
}

async fn total(app: &TestApp, collection: &str) -> Value {
    let path = format!("/api/v1/{collection}?count=true&limit=1");
    json_with_status(app.get(&path).await, 200).await["meta"]["page"]["total"].clone()
}

#[tokio::test]
async fn a_write_slower_than_the_request_limit_is_waited_for_and_answered_truthfully() {
    let app = spawn_with_limits(30).await;
    let lock = HeldLock::take(&app, "notes").await;
    let create = post_in_background(&app, "/api/v1/notes", json!({"body": "slow"}));
    let batch = post_in_background(
        &app,
        "/api/v1/batch",
        json!({"operations": [{"op": "create", "collection": "notes", "body": {"body": "slow batch"}}]}),
    );
    // Past the 1 s request limit, with both writes still waiting for the lock.
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    lock.release().await;

    let created = json_with_status(create.await.expect("request"), 201).await;
    assert_eq!(created["data"]["body"], "slow");
    let batched = json_with_status(batch.await.expect("request"), 200).await;
    assert_eq!(batched["data"][0]["record"]["body"], "slow batch");
    assert_eq!(total(&app, "notes").await, 2, "each write stored once");
    Arc::into_inner(app).expect("one owner").stop().await;
}

#[tokio::test]
async fn a_write_whose_outcome_does_not_arrive_in_time_is_504_write_outcome_unknown() {
    let app = spawn_with_limits(2).await;
    let lock = HeldLock::take(&app, "notes").await;
    let id = "0190c8e4-7b7e-7c3a-9f1e-000000000504";
    let body = json!({"id": id, "body": "in doubt"});
    let create = post_in_background(&app, "/api/v1/notes", body.clone());
    // The lock is held until after the answer, so the write cannot finish in time.
    let problem =
        assert_problem(create.await.expect("request"), 504, "write_outcome_unknown").await;
    let hint = problem["hint"].as_str().expect("hint");
    assert!(
        hint.contains("GET") && !hint.starts_with("Retry"),
        "the hint says to read before retrying: {problem}"
    );
    lock.release().await;

    // Doing what the hint says ends with exactly one record, whatever became of the write: the
    // chosen id makes a repeated create a conflict rather than a duplicate.
    let read = app.get(&format!("/api/v1/notes/{id}")).await.status();
    assert!(read == 200 || read == 404, "{read}");
    if read == 404 {
        let retried = app.post_json("/api/v1/notes", &body).await.status();
        assert!(retried == 201 || retried == 409, "{retried}");
    }
    json_with_status(app.get(&format!("/api/v1/notes/{id}")).await, 200).await;
    assert_eq!(total(&app, "notes").await, 1);
    Arc::into_inner(app).expect("one owner").stop().await;
}
