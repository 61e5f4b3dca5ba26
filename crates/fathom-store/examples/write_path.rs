//! Measures the SQLite write and read paths that decided the driver choice (ARCHITECTURE.md):
//! raw rusqlite on one thread against Fathom's store (a thread hop per call, group commit for
//! concurrent writers). Prints throughput and latency percentiles.
//!
//! With `FATHOM_BENCH_PG_URL` set to a PostgreSQL superuser's URL it measures the same paths on
//! a scratch PostgreSQL database instead: raw tokio-postgres on one connection against the store
//! (a pooled connection and one transaction per write).
//!
//! Run: `cargo run --release -p fathom-store --example write_path`

mod common;

use common::{report, schema};

use std::sync::Arc;
use std::time::{Duration, Instant};

use fathom_schema::Value;
use fathom_store::{
    ListQuery, PostgresOptions, Scope, ScratchDatabase, SqliteOptions, Store, UnitOfWork, WriteOp,
};

const WRITES: usize = 2000;
const READS: usize = 20000;

fn raw_connection(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE notes (id TEXT PRIMARY KEY, created_at TEXT, updated_at TEXT, version INTEGER, body TEXT) STRICT;",
    )
    .expect("setup");
    conn
}

#[tokio::main]
async fn main() {
    if let Ok(admin) = std::env::var("FATHOM_BENCH_PG_URL") {
        return postgres_paths(&admin).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    println!("SQLite write/read paths, WAL, synchronous=FULL, {WRITES} writes, {READS} reads\n");

    // Raw rusqlite: one connection, the calling thread, one transaction per insert.
    let conn = raw_connection(&dir.path().join("raw.db"));
    let mut latencies = Vec::with_capacity(WRITES);
    let started = Instant::now();
    for n in 0..WRITES {
        let t = Instant::now();
        conn.prepare_cached("INSERT INTO notes VALUES (?1, ?2, ?2, 1, ?3)")
            .and_then(|mut s| {
                s.execute(rusqlite::params![
                    uuid::Uuid::now_v7().to_string(),
                    "2026-01-01T00:00:00.000Z",
                    format!("note {n}")
                ])
            })
            .expect("insert");
        latencies.push(t.elapsed());
    }
    report(
        "ops",
        "raw rusqlite insert, 1 caller (commit each)",
        started.elapsed(),
        latencies,
    );

    let mut ids = Vec::new();
    conn.prepare("SELECT id FROM notes")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map(|v| ids = v)
        .expect("ids");
    let mut latencies = Vec::with_capacity(READS);
    let started = Instant::now();
    for n in 0..READS {
        let t = Instant::now();
        conn.prepare_cached(
            "SELECT id, version, created_at, updated_at, body FROM notes WHERE id = ?1",
        )
        .and_then(|mut s| s.query_row([&ids[n % ids.len()]], |r| r.get::<_, String>(4)))
        .expect("read");
        latencies.push(t.elapsed());
    }
    report(
        "ops",
        "raw rusqlite get by id, 1 caller",
        started.elapsed(),
        latencies,
    );
    drop(conn);

    let store = Store::open_sqlite(SqliteOptions::new(dir.path().join("store.db")))
        .await
        .expect("store");
    store_paths(&store, "group commit", "reader pool").await;
}

/// The same paths on PostgreSQL: raw tokio-postgres (one connection, autocommit) and the store.
async fn postgres_paths(admin: &str) {
    let database = ScratchDatabase::create(admin)
        .await
        .expect("scratch database");
    println!("PostgreSQL write/read paths, {WRITES} writes, {READS} reads\n");
    let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(
            "CREATE TABLE raw_notes (id uuid PRIMARY KEY, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version bigint NOT NULL, body text NOT NULL)",
        )
        .await
        .expect("table");
    let insert = client
        .prepare("INSERT INTO raw_notes VALUES ($1, now(), now(), 1, $2)")
        .await
        .expect("prepare");
    let mut ids = Vec::with_capacity(WRITES);
    let mut latencies = Vec::with_capacity(WRITES);
    let started = Instant::now();
    for n in 0..WRITES {
        let id = uuid::Uuid::now_v7();
        let t = Instant::now();
        client
            .execute(&insert, &[&id, &format!("note {n}")])
            .await
            .expect("insert");
        latencies.push(t.elapsed());
        ids.push(id);
    }
    report(
        "ops",
        "raw tokio-postgres insert, 1 caller (commit each)",
        started.elapsed(),
        latencies,
    );
    let select = client
        .prepare("SELECT id, version, created_at, updated_at, body FROM raw_notes WHERE id = $1")
        .await
        .expect("prepare");
    let mut latencies = Vec::with_capacity(READS);
    let started = Instant::now();
    for n in 0..READS {
        let t = Instant::now();
        client
            .query_one(&select, &[&ids[n % ids.len()]])
            .await
            .expect("read");
        latencies.push(t.elapsed());
    }
    report(
        "ops",
        "raw tokio-postgres get by id, 1 caller",
        started.elapsed(),
        latencies,
    );
    let store = Store::open_postgres(PostgresOptions::new(database.url()))
        .await
        .expect("store");
    store_paths(&store, "pool", "pool").await;
    drop(store);
    database.drop_database().await.expect("drop database");
}

/// Creates with 1 and 32 concurrent callers, then reads by id with 1 and 8.
async fn store_paths(store: &Store, writes: &str, reads: &str) {
    let schema = schema();
    store.migrate(&schema, false).await.expect("migrate");
    let notes = schema.collection("notes").expect("notes").clone();

    for callers in [1usize, 32] {
        let (store, notes) = (store.clone(), notes.clone());
        let (total, latencies) = run_callers(callers, WRITES / callers, move |c, n| {
            let (store, notes) = (store.clone(), notes.clone());
            async move {
                let values = vec![("body".into(), Value::Text(format!("note {c}-{n}")))];
                let op = WriteOp::Create {
                    id: None,
                    collection: notes,
                    values,
                    tenant: None,
                };
                store
                    .execute(UnitOfWork::single(Scope::AllTenants, op))
                    .await
                    .expect("create");
            }
        })
        .await;
        report(
            "ops",
            &format!("store create, {callers} caller(s) ({writes})"),
            total,
            latencies,
        );
    }

    let records = store
        .list(&Scope::AllTenants, notes.clone(), ListQuery::first(1000))
        .await
        .expect("list");
    let ids: Arc<Vec<_>> = Arc::new(records.iter().map(|r| r.id).collect());
    for callers in [1usize, 8] {
        let (store, notes, ids) = (store.clone(), notes.clone(), ids.clone());
        let (total, latencies) = run_callers(callers, READS / callers, move |_, n| {
            let (store, notes, id) = (store.clone(), notes.clone(), ids[n % ids.len()]);
            async move {
                store.get(&Scope::AllTenants, notes, id).await.expect("get");
            }
        })
        .await;
        report(
            "ops",
            &format!("store get by id, {callers} caller(s) ({reads})"),
            total,
            latencies,
        );
    }
}

/// Runs `op(caller, n)` `per_caller` times on each of `callers` concurrent tasks; returns the
/// wall time and every call's latency.
async fn run_callers<F, Fut>(callers: usize, per_caller: usize, op: F) -> (Duration, Vec<Duration>)
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_caller);
                for n in 0..per_caller {
                    let t = Instant::now();
                    op(c, n).await;
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
    (started.elapsed(), latencies)
}
