//! Measures what the outbox costs a write (ARCHITECTURE.md, "The outbox's sequence").
//!
//! On each database the same insert runs in its own transaction without and with the outbox's
//! statements (the counter row taken last, then the event row), from 1 and from 32 concurrent
//! callers, and then through the store (which always writes the outbox). Prints throughput and
//! latency percentiles.
//!
//! SQLite: `cargo run --release -p fathom-store --example outbox_cost`
//! PostgreSQL: the same with `FATHOM_BENCH_PG_URL` set to a superuser's URL; each case runs with
//! `synchronous_commit` on and off (the row lock is held through the commit's WAL flush).

mod common;

use common::{report, schema};

use std::time::Instant;

use fathom_schema::Value;
use fathom_store::{
    Durability, PostgresOptions, Scope, ScratchDatabase, SqliteOptions, Store, UnitOfWork, WriteOp,
};

const WRITES: usize = 3200;

const EVENT_JSON: &str = r#"{"id":"0","created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z","version":1,"body":"note"}"#;

#[tokio::main]
async fn main() {
    if let Ok(admin) = std::env::var("FATHOM_BENCH_PG_URL") {
        return postgres(&admin).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    println!("SQLite, WAL, {WRITES} writes\n");
    for (synchronous, outbox) in [
        ("FULL", false),
        ("FULL", true),
        ("NORMAL", false),
        ("NORMAL", true),
    ] {
        let path = dir.path().join(format!("raw-{synchronous}-{outbox}.db"));
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
             CREATE TABLE notes (id TEXT PRIMARY KEY, created_at TEXT, updated_at TEXT, version INTEGER, body TEXT) STRICT;
             CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, collection TEXT NOT NULL, record_id TEXT NOT NULL, operation TEXT NOT NULL, version INTEGER NOT NULL, tenant TEXT, changed TEXT NOT NULL, record TEXT, actor_type TEXT NOT NULL, actor_id TEXT, request_id TEXT, committed_at TEXT NOT NULL) STRICT;
             CREATE TABLE counter (id INTEGER PRIMARY KEY, last INTEGER NOT NULL) STRICT;
             INSERT INTO counter VALUES (1, 0);"
        ))
        .expect("setup");
        let mut latencies = Vec::with_capacity(WRITES);
        let started = Instant::now();
        for n in 0..WRITES {
            let t = Instant::now();
            let tx = conn.unchecked_transaction().expect("begin");
            let id = uuid::Uuid::now_v7().to_string();
            tx.prepare_cached("INSERT INTO notes VALUES (?1, ?2, ?2, 1, ?3)")
                .and_then(|mut s| {
                    s.execute(rusqlite::params![
                        id,
                        "2026-01-01T00:00:00.000Z",
                        format!("note {n}")
                    ])
                })
                .expect("insert");
            if outbox {
                let last: i64 = tx
                    .prepare_cached(
                        "UPDATE counter SET last = last + 1 WHERE id = 1 RETURNING last",
                    )
                    .and_then(|mut s| s.query_row([], |r| r.get(0)))
                    .expect("counter");
                tx.prepare_cached("INSERT INTO events VALUES (?1, ?2, 'notes', ?3, 'create', 1, NULL, '[\"body\"]', ?4, 'system', NULL, NULL, ?5)")
                    .and_then(|mut s| s.execute(rusqlite::params![last, uuid::Uuid::now_v7().to_string(), id, EVENT_JSON, "2026-01-01T00:00:00.000Z"]))
                    .expect("event");
            }
            tx.commit().expect("commit");
            latencies.push(t.elapsed());
        }
        let name = format!(
            "raw insert{}, 1 caller, synchronous={synchronous}",
            if outbox { " + outbox" } else { "" }
        );
        report(&name, "writes", started.elapsed(), latencies);
    }
    for durability in [Durability::Full, Durability::Normal] {
        let mut options = SqliteOptions::new(dir.path().join(format!("store-{durability:?}.db")));
        options.durability = durability;
        let store = Store::open_sqlite(options).await.expect("store");
        store_creates(&store, &format!(", {durability:?}")).await;
    }
}

/// Raw tokio-postgres: one connection per caller, each insert in its own transaction, without
/// and with the outbox's event row (numbered by the deferred trigger during COMMIT, as the
/// store's are).
async fn postgres(admin: &str) {
    let database = ScratchDatabase::create(admin)
        .await
        .expect("scratch database");
    println!("PostgreSQL, {WRITES} writes (the test cluster runs fsync=off)\n");
    // The store creates the outbox tables.
    let store = Store::open_postgres(PostgresOptions::new(database.url()))
        .await
        .expect("store");
    store.migrate(&schema(), false).await.expect("migrate");
    drop(store);
    for synchronous in ["off", "on"] {
        for callers in [1usize, 32] {
            for outbox in [false, true] {
                let url = database.url().to_owned();
                let started = Instant::now();
                let tasks: Vec<_> = (0..callers)
                    .map(|c| {
                        let url = url.clone();
                        tokio::spawn(async move {
                            let (mut client, connection) =
                                tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
                            tokio::spawn(connection);
                            client
                                .batch_execute(&format!("SET synchronous_commit = {synchronous}"))
                                .await
                                .expect("set");
                            let insert = client
                                .prepare("INSERT INTO notes (id, created_at, updated_at, version, body) VALUES ($1, now(), now(), 1, $2)")
                                .await
                                .expect("prepare");
                            let append = client
                                .prepare(
                                    r#"INSERT INTO "_fathom_events" ("seq", "id", "collection", "record_id", "operation", "version", "tenant", "changed", "record", "actor_type", "actor_id", "request_id", "committed_at")
                                       VALUES (-nextval('"_fathom_event_staging"'), $1, 'notes', $2, 'create', 1, NULL, '["body"]', $3, 'system', NULL, NULL, '2026-01-01T00:00:00.000Z')"#,
                                )
                                .await
                                .expect("prepare");
                            let mut latencies = Vec::with_capacity(WRITES / callers);
                            for n in 0..WRITES / callers {
                                let id = uuid::Uuid::now_v7();
                                let t = Instant::now();
                                let tx = client.transaction().await.expect("begin");
                                tx.execute(&insert, &[&id, &format!("note {c}-{n}")]).await.expect("insert");
                                if outbox {
                                    tx.execute(&append, &[&uuid::Uuid::now_v7().to_string(), &id.to_string(), &EVENT_JSON])
                                        .await
                                        .expect("append");
                                }
                                tx.commit().await.expect("commit");
                                latencies.push(t.elapsed());
                            }
                            latencies
                        })
                    })
                    .collect();
                let mut latencies = Vec::new();
                for task in tasks {
                    latencies.extend(task.await.expect("task"));
                }
                let name = format!(
                    "raw insert{}, {callers} caller(s), synchronous_commit={synchronous}",
                    if outbox { " + outbox" } else { "" }
                );
                report(&name, "writes", started.elapsed(), latencies);
            }
        }
        let url = format!(
            "{}?options=-c%20synchronous_commit%3D{synchronous}",
            database.url()
        );
        let store = Store::open_postgres(PostgresOptions::new(url))
            .await
            .expect("store");
        store_creates(&store, &format!(", synchronous_commit={synchronous}")).await;
    }
    database.drop_database().await.expect("drop database");
}

/// Creates through the store (outbox included) with 1 and 32 concurrent callers.
async fn store_creates(store: &Store, label: &str) {
    let schema = schema();
    store.migrate(&schema, false).await.expect("migrate");
    let notes = schema.collection("notes").expect("notes").clone();
    for callers in [1usize, 32] {
        let started = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|c| {
                let (store, notes) = (store.clone(), notes.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(WRITES / callers);
                    for n in 0..WRITES / callers {
                        let op = WriteOp::Create {
                            id: None,
                            collection: notes.clone(),
                            values: vec![("body".into(), Value::Text(format!("note {c}-{n}")))],
                            tenant: None,
                        };
                        let t = Instant::now();
                        store
                            .execute(UnitOfWork::single(Scope::AllTenants, op))
                            .await
                            .expect("create");
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.expect("task"));
        }
        report(
            "writes",
            &format!("store create (outbox), {callers} caller(s){label}"),
            started.elapsed(),
            latencies,
        );
    }
}
