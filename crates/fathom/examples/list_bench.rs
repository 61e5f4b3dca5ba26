//! Filtered, sorted list pages on a large collection, over HTTP against the real server
//! (in-process, embedded SQLite), with the store alone beside it as the floor.
//!
//! Run: `cargo run --release -p fathom --example list_bench -- [records] [requests]`
//! (defaults: 100000 records, 2000 requests per workload). With `FATHOM_BENCH_PG_URL` set to a
//! PostgreSQL superuser's URL, the same workloads run on a scratch PostgreSQL database.

use std::time::{Duration, Instant};

use fathom::{Application, Config};
use fathom_schema::Value;
use fathom_store::{ListQuery, Scope, UnitOfWork, WriteOp};

const SCHEMA: &str = r#"
[collections.tickets]
rules = { list = true, view = true }
fields.title    = { type = "text", required = true }
fields.status   = { type = "enum", values = ["open", "triaged", "in_progress", "blocked", "done"], required = true }
fields.priority = { type = "integer", required = true, min = 0, max = 9 }
fields.team     = { type = "text", required = true }
indexes = [["status", "created_at"], ["team", "priority"]]
"#;

const STATUSES: [&str; 5] = ["open", "triaged", "in_progress", "blocked", "done"];
const TEAMS: usize = 50;

/// A small deterministic generator, so every run measures the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at =
        |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    format!(
        "p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.database.data_dir = dir.path().to_path_buf();
    let database = match std::env::var("FATHOM_BENCH_PG_URL") {
        Ok(admin) => Some(
            fathom_store::ScratchDatabase::create(&admin)
                .await
                .map_err(|e| anyhow::anyhow!(e.detail))?,
        ),
        Err(_) => None,
    };
    if let Some(database) = &database {
        config.database.url = Some(fathom::config::Secret::new(database.url()));
    }
    let schema =
        fathom_schema::parse_schema("bench.toml", SCHEMA).map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = Application::build(&config, schema, "bench.db").await?;
    println!("backend: {}", app.state().store.backend_name());
    let (store, schema) = (app.state().store.clone(), app.state().schema.clone());
    let tickets = schema
        .collection("tickets")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no tickets"))?;

    let started = Instant::now();
    let mut rng = Lcg(42);
    for chunk in 0..records.div_ceil(1000) {
        let mut work = UnitOfWork::new(Scope::AllTenants);
        for n in chunk * 1000..((chunk + 1) * 1000).min(records) {
            let values = vec![
                ("title".to_owned(), Value::Text(format!("ticket {n}"))),
                (
                    "status".to_owned(),
                    Value::Text(STATUSES[(rng.next() % 5) as usize].to_owned()),
                ),
                (
                    "priority".to_owned(),
                    Value::Integer((rng.next() % 10) as i64),
                ),
                (
                    "team".to_owned(),
                    Value::Text(format!("team-{}", rng.next() % TEAMS as u64)),
                ),
            ];
            work.ops.push(WriteOp::Create {
                id: None,
                collection: tickets.clone(),
                values,
                tenant: None,
            });
        }
        store
            .execute(work)
            .await
            .map_err(|e| anyhow::anyhow!(e.detail))?;
    }
    println!(
        "seeded {records} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let address = app.local_addr()?;
    tokio::spawn(app.run_until(std::future::pending()));
    fathom_webhooks::install_crypto_provider();
    let client = {
        fathom_webhooks::install_crypto_provider();
        reqwest::Client::new()
    };
    let base = format!("http://{address}/api/v1/tickets");

    type Workload = (&'static str, Box<dyn Fn(&mut Lcg) -> String>);
    let workloads: [Workload; 3] = [
        (
            "filter status, sort -created_at, limit 20",
            Box::new(|r: &mut Lcg| {
                format!(
                    "filter=status%20%3D%20%22{}%22&sort=-created_at&limit=20",
                    STATUSES[(r.next() % 5) as usize]
                )
            }),
        ),
        (
            "filter team && priority >= N, sort -priority",
            Box::new(|r: &mut Lcg| {
                format!(
                    "filter=team%20%3D%20%22team-{}%22%20%26%26%20priority%20%3E%3D%20{}&sort=-priority&limit=20",
                    r.next() % TEAMS as u64,
                    r.next() % 10
                )
            }),
        ),
        (
            "same as first, plus count=true",
            Box::new(|r: &mut Lcg| {
                format!(
                    "filter=status%20%3D%20%22{}%22&sort=-created_at&limit=20&count=true",
                    STATUSES[(r.next() % 5) as usize]
                )
            }),
        ),
    ];
    println!(
        "\n{requests} sequential requests per workload on {records} records (HTTP, debug or release as built):"
    );
    for (name, query) in &workloads {
        let mut samples = Vec::with_capacity(requests);
        for _ in 0..requests {
            let url = format!("{base}?{}", query(&mut rng));
            let t = Instant::now();
            let response = client.get(&url).send().await?;
            let status = response.status();
            let _ = response.bytes().await?;
            samples.push(t.elapsed());
            anyhow::ensure!(status.is_success(), "{url} answered {status}");
        }
        println!("  {name:<48} {}", percentiles(samples));
    }

    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let text = format!("status = \"{}\"", STATUSES[(rng.next() % 5) as usize]);
        let expr = fathom_query::parse(&text)?;
        let filter = fathom_query::check(
            &expr,
            &text,
            &schema,
            &tickets,
            &fathom_query::Env::default(),
        )?;
        let sort = fathom_query::parse_sort("-created_at", &tickets)?;
        let t = Instant::now();
        store
            .list(
                &Scope::AllTenants,
                tickets.clone(),
                ListQuery {
                    filter: Some(filter),
                    sort,
                    after: None,
                    limit: 21,
                    offset: 0,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.detail))?;
        samples.push(t.elapsed());
    }
    println!(
        "  {:<48} {}",
        "store alone: the first workload, no HTTP",
        percentiles(samples)
    );
    Ok(())
}
