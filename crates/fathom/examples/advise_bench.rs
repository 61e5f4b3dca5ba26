//! The architect on a large table: the `team && priority` page measured over HTTP, the index
//! advisor asked about the shapes the store recorded, the advised index declared and migrated
//! (the server restarted on the amended schema, as `fathom advise --apply` then a restart
//! would), and the same page measured again.
//!
//! Run: `cargo run --release -p fathom --example advise_bench -- [records] [requests]`
//! (defaults: 1000000 records, 2000 requests). Embedded SQLite.

use std::time::{Duration, Instant};

use fathom::{Application, Config};
use fathom_architect::{FindingKind, IndexOptions, advise_indexes};
use fathom_schema::Value;
use fathom_store::{Scope, UnitOfWork, WriteOp};

const SCHEMA: &str = r#"
[collections.tickets]
rules = { list = true, view = true }
fields.title    = { type = "text", required = true }
fields.status   = { type = "enum", values = ["open", "triaged", "in_progress", "blocked", "done"], required = true }
fields.priority = { type = "integer", required = true, min = 0, max = 9 }
fields.team     = { type = "text", required = true }
indexes = [["status", "created_at"], ["team", "priority"]]
"#;

const TEAMS: u64 = 50;

/// The same deterministic generator as `list_bench`.
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

async fn start(config: &Config, schema: &str) -> anyhow::Result<Application> {
    let schema =
        fathom_schema::parse_schema("bench.toml", schema).map_err(|e| anyhow::anyhow!("{e}"))?;
    Application::build(config, schema, "bench.db").await
}

/// `requests` pages `team = … && priority >= N` sorted by `sort`, over HTTP.
async fn measure(
    address: std::net::SocketAddr,
    sort: &str,
    requests: usize,
) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let mut rng = Lcg(7);
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let url = format!(
            "http://{address}/api/v1/tickets?filter=team%20%3D%20%22team-{}%22%20%26%26%20priority%20%3E%3D%20{}&sort={sort}&limit=20",
            rng.next() % TEAMS,
            rng.next() % 10
        );
        let t = Instant::now();
        let response = client.get(&url).send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        samples.push(t.elapsed());
        anyhow::ensure!(status.is_success(), "{url} answered {status}");
    }
    Ok(percentiles(samples))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let records: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    fathom_webhooks::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.database.data_dir = dir.path().to_path_buf();
    config.rate_limits.enabled = false;

    let app = start(&config, SCHEMA).await?;
    let store = app.state().store.clone();
    let tickets = app
        .state()
        .schema
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
                ("status".to_owned(), Value::Text("open".to_owned())),
                (
                    "priority".to_owned(),
                    Value::Integer((rng.next() % 10) as i64),
                ),
                (
                    "team".to_owned(),
                    Value::Text(format!("team-{}", rng.next() % TEAMS)),
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
    let schema = app.state().schema.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    println!("{requests} sequential requests, `team = … && priority >= N`, limit 20:");
    println!(
        "  sort=-priority      before  {}",
        measure(address, "-priority", requests).await?
    );
    println!(
        "  sort=-priority,-id  before  {}",
        measure(address, "-priority,-id", requests).await?
    );

    let t = Instant::now();
    let reports = store
        .query_shapes()
        .await
        .map_err(|e| anyhow::anyhow!(e.detail))?;
    let findings = advise_indexes(&store, &schema, &reports, &IndexOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!(e.detail))?;
    println!(
        "advice ({} shapes, {:.0} ms):",
        reports.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    let mut advised = Vec::new();
    for finding in findings
        .iter()
        .filter(|f| f.kind == FindingKind::MissingIndex)
    {
        println!("  {}", finding.title);
        println!("    gain: {}", finding.gain.as_deref().unwrap_or("-"));
        println!("    sql:  {}", finding.change.sql.join("; "));
        println!("    plan before: {}", finding.evidence["before"]["plan"]);
        println!("    plan after:  {}", finding.evidence["after"]["plan"]);
        // The schema lines are `indexes = [[...]]`: the inner list is the advised index.
        let patch = finding.change.schema_patch.as_deref().unwrap_or_default();
        if let Some(line) = patch.lines().find(|l| l.starts_with("indexes = [")) {
            let inner = &line["indexes = [".len()..line.len() - 1];
            advised.push(inner.to_owned());
        }
    }
    anyhow::ensure!(!advised.is_empty(), "no index was advised: {findings:#?}");

    let _ = stop.send(());
    server.await??;
    let amended = SCHEMA.replace(
        r#"indexes = [["status", "created_at"], ["team", "priority"]]"#,
        &format!(
            r#"indexes = [["status", "created_at"], ["team", "priority"], {}]"#,
            advised.join(", ")
        ),
    );
    let t = Instant::now();
    let app = start(&config, &amended).await?;
    println!(
        "migrated (the advised index built) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let address = app.local_addr()?;
    tokio::spawn(app.run_until(std::future::pending()));
    println!(
        "  sort=-priority      after   {}",
        measure(address, "-priority", requests).await?
    );
    println!(
        "  sort=-priority,-id  after   {}",
        measure(address, "-priority,-id", requests).await?
    );
    Ok(())
}
