//! Measures what recording query shapes adds to a read, in-process (no HTTP, no load generator):
//! two SQLite stores seeded alike, one recording shapes and one not, take turns running the W3
//! page (`status = S && priority >= P`, newest first, 21 rows) on one caller. Prints the mean
//! time per read of each and their ratio, round by round.
//!
//! Run: `cargo run --release -p fathom-store --example shape_cost`

use std::time::Instant;

use fathom_query::{Env, check, parse, parse_sort};
use fathom_schema::{Schema, Value, parse_schema};
use fathom_store::{ListQuery, Scope, SqliteOptions, Store, UnitOfWork, WriteOp};

const SCHEMA: &str = r#"
[collections.tasks]
fields.status   = { type = "enum", values = ["open", "done", "late"] }
fields.priority = { type = "integer" }
indexes = [["status", "created_at"]]
"#;
const RECORDS: i64 = 20_000;
const READS: usize = 3_000;
const ROUNDS: usize = 6;

async fn seeded(dir: &std::path::Path, schema: &Schema, record: bool) -> Store {
    let store = Store::open_sqlite(SqliteOptions::new(dir.join("shape_cost.db")))
        .await
        .expect("open")
        .with_shape_book(record, 1000);
    store.migrate(schema, false).await.expect("migrate");
    let tasks = schema.collection("tasks").expect("tasks").clone();
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(1000) {
        let ops = chunk
            .iter()
            .map(|n| WriteOp::Create {
                id: None,
                collection: tasks.clone(),
                values: vec![
                    (
                        "status".into(),
                        Value::Text(["open", "done", "late"][(n % 3) as usize].into()),
                    ),
                    ("priority".into(), Value::Integer(n % 10)),
                ],
                tenant: None,
            })
            .collect();
        store
            .execute(UnitOfWork {
                ops,
                ..UnitOfWork::new(Scope::AllTenants)
            })
            .await
            .expect("seed");
    }
    store
}

/// Mean microseconds per read over `READS` pages.
async fn pages(store: &Store, schema: &Schema) -> f64 {
    let tasks = schema.collection("tasks").expect("tasks").clone();
    let sort = parse_sort("-created_at", &tasks).expect("sort");
    let started = Instant::now();
    for n in 0..READS {
        let source = format!(
            "status = \"{}\" && priority >= {}",
            ["open", "done", "late"][n % 3],
            n % 10
        );
        let filter = check(
            &parse(&source).expect("parse"),
            &source,
            schema,
            &tasks,
            &Env::default(),
        )
        .expect("check");
        let query = ListQuery {
            filter: Some(filter),
            sort: sort.clone(),
            ..ListQuery::first(21)
        };
        store
            .list(&Scope::AllTenants, tasks.clone(), query)
            .await
            .expect("list");
    }
    started.elapsed().as_secs_f64() * 1e6 / READS as f64
}

#[tokio::main]
async fn main() {
    let schema = parse_schema("shape_cost.toml", SCHEMA).expect("schema");
    let (off_dir, on_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let off = seeded(off_dir.path(), &schema, false).await;
    let on = seeded(on_dir.path(), &schema, true).await;
    // Warm both (statement caches, page cache).
    pages(&off, &schema).await;
    pages(&on, &schema).await;
    let (mut total_off, mut total_on) = (0.0, 0.0);
    for round in 1..=ROUNDS {
        // Alternate which goes first, so drift weighs on both alike.
        let (a, b) = if round % 2 == 0 {
            let b = pages(&on, &schema).await;
            (pages(&off, &schema).await, b)
        } else {
            let a = pages(&off, &schema).await;
            (a, pages(&on, &schema).await)
        };
        total_off += a;
        total_on += b;
        println!(
            "round {round}: off {a:.1} µs/read, on {b:.1} µs/read, on/off {:.3}",
            b / a
        );
    }
    println!(
        "mean: off {:.1} µs/read, on {:.1} µs/read, on/off {:.3} ({} shapes held)",
        total_off / ROUNDS as f64,
        total_on / ROUNDS as f64,
        total_on / total_off,
        on.shape_book().len()
    );
}
