//! Measures what `audit = true` costs a write (ARCHITECTURE.md, "The audit chain"): the same
//! single-record creates through the store into a collection without and with `audit`, from 1
//! and from 16 concurrent callers. Prints throughput and latency percentiles.
//!
//! SQLite: `cargo run --release -p fathom-store --example audit_cost`
//! PostgreSQL: the same with `FATHOM_BENCH_PG_URL` set to a superuser's URL.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{report, schema};
use fathom_schema::{Collection, Schema, Value};
use fathom_store::{
    PostgresOptions, Scope, ScratchDatabase, SqliteOptions, Store, UnitOfWork, WriteOp,
};

const WRITES: usize = 1600;

/// The `notes` collection of the shared schema, and a copy `audited_notes` with `audit = true`.
fn schemas() -> Schema {
    let mut schema = schema();
    let notes = schema.collections["notes"].clone();
    let audited = Collection {
        name: "audited_notes".into(),
        audit: true,
        ..Collection::clone(&notes)
    };
    schema
        .collections
        .insert("audited_notes".into(), Arc::new(audited));
    schema
}

async fn run(store: &Store, schema: &Schema, label: &str) {
    for callers in [1usize, 16] {
        for name in ["notes", "audited_notes"] {
            let collection = schema.collections[name].clone();
            let started = Instant::now();
            let mut tasks = Vec::new();
            for c in 0..callers {
                let (store, collection) = (store.clone(), collection.clone());
                tasks.push(tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    for n in 0..WRITES / callers {
                        let op = WriteOp::Create {
                            id: None,
                            collection: collection.clone(),
                            values: vec![("body".into(), Value::Text(format!("note {c}-{n}")))],
                            tenant: None,
                        };
                        let at = Instant::now();
                        store
                            .execute(UnitOfWork::single(Scope::AllTenants, op))
                            .await
                            .expect("write");
                        latencies.push(at.elapsed());
                    }
                    latencies
                }));
            }
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.expect("task"));
            }
            report(
                &format!("{label}: {name}, {callers} caller(s)"),
                "writes",
                started.elapsed(),
                latencies,
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let schema = schemas();
    if let Ok(admin) = std::env::var("FATHOM_BENCH_PG_URL") {
        let database = ScratchDatabase::create(&admin)
            .await
            .expect("scratch database");
        let store = Store::open_postgres(PostgresOptions::new(database.url()))
            .await
            .expect("store");
        store.migrate(&schema, false).await.expect("migrate");
        return run(&store, &schema, "PostgreSQL").await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_sqlite(SqliteOptions::new(dir.path().join("audit.db")))
        .await
        .expect("store");
    store.migrate(&schema, false).await.expect("migrate");
    run(&store, &schema, "SQLite").await;
}
