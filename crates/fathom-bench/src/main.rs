//! `fathom-bench`: run the benchmark suite against Fathom and the bare baseline, serve the
//! baseline alone, or redraw the chart and the docs table from saved results.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fathom_bench::subscriber::Transports;
use fathom_bench::w5::W5Options;
use fathom_bench::w7::W7Options;
use fathom_bench::{baseline, chart, docs, report, results::Results, suite};

/// The same allocator as the fathom binary, so the baseline server measures the same stack.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "fathom-bench",
    about = "Benchmarks Fathom against a bare axum + rusqlite baseline."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every workload against Fathom and the baseline; print the table, write the JSON.
    Suite(Box<SuiteArgs>),
    /// Serve the bare baseline (the suite starts it this way).
    Baseline(BaselineArgs),
    /// Draw the SVG chart from a results file.
    Chart {
        #[arg(long, default_value = "target/bench/results.json")]
        results: PathBuf,
        #[arg(long, default_value = "docs/bench-chart.svg")]
        out: PathBuf,
    },
    /// Replace the generated figures in docs/BENCHMARKS.md (between its markers).
    Docs {
        #[arg(long, default_value = "target/bench/results.json")]
        results: PathBuf,
        #[arg(long, default_value = "docs/BENCHMARKS.md")]
        doc: PathBuf,
    },
}

#[derive(Debug, Args)]
struct SuiteArgs {
    /// The fathom binary (default: `fathom` beside this binary).
    #[arg(long)]
    fathom_bin: Option<PathBuf>,
    /// Records seeded into each server.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Seed one million records instead (overrides --records).
    #[arg(long)]
    large: bool,
    /// Seconds each workload runs against each server (in all its rounds together).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Fathom and the baseline take turns this many times in each workload, so that a machine
    /// whose speed drifts during the run (other tenants, thermal limits) weighs on both alike.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Seconds of unmeasured warm-up before each measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// The most requests one measurement sends.
    #[arg(long, default_value_t = 10_000_000)]
    max_requests: u64,
    /// Workers for the closed-loop reads and pages (W2, W3, W4).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests a second for the open-loop W2.
    #[arg(long, default_value_t = 2000.0)]
    open_rate: f64,
    /// Non-admin users who own the rows and log in.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Workers sending logins in W6.
    #[arg(long, default_value_t = 16)]
    login_concurrency: usize,
    /// Workers reading during W6.
    #[arg(long, default_value_t = 8)]
    flood_read_concurrency: usize,
    /// `full` or `normal`, for both servers.
    #[arg(long, default_value = "full")]
    durability: String,
    /// Reader connections of the baseline (Fathom's default is 4).
    #[arg(long, default_value_t = 4)]
    baseline_readers: usize,
    /// Run only these workloads (comma-separated ids such as W2,W3; also outbox, encryption,
    /// cache, the result cache's W3 with count=true cached against uncached, and shapes, W2 and
    /// W3 with query-shape recording on against off); all by default. `engine` (W1–W4 against
    /// `--fathom-main-bin` built from main before the records engine) runs only when named.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run only W5 (realtime): the same as `--only W5`.
    #[arg(long)]
    w5_only: bool,
    /// W5: the subscriber counts of the burst phases (0 is the writer's baseline).
    #[arg(long, value_delimiter = ',', default_values_t = [0usize, 100, 1000])]
    subscribers: Vec<usize>,
    /// W5: creates in each burst.
    #[arg(long, default_value_t = 1000)]
    w5_burst: u64,
    /// W5: concurrent workers of the writer during a burst.
    #[arg(long, default_value_t = 1)]
    w5_writers: usize,
    /// W5: the subscribers' transports: an even mix, or all one.
    #[arg(long, value_enum, default_value_t = Transports::Mixed)]
    w5_transports: Transports,
    /// W5: idle connections in the crowd phase (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    w5_crowd: usize,
    /// W5: seconds the crowd is held idle before it is written to.
    #[arg(long, default_value_t = 5.0)]
    w5_idle_seconds: f64,
    /// W5: creates a second sent to the crowd (0 skips the steady phase).
    #[arg(long, default_value_t = 100.0)]
    w5_crowd_rate: f64,
    /// W5: seconds the steady phase writes to the crowd.
    #[arg(long, default_value_t = 10.0)]
    w5_crowd_seconds: f64,
    /// W5: subscribers connect from 127.0.0.1 … 127.0.0.N (each address has its own ephemeral
    /// ports).
    #[arg(long, default_value_t = 4)]
    w5_local_addresses: usize,
    /// W5: subscribers connecting at once.
    #[arg(long, default_value_t = 200)]
    w5_connect_concurrency: usize,
    /// W5: a phase stops waiting for deliveries after this many seconds without one.
    #[arg(long, default_value_t = 10.0)]
    w5_quiet_seconds: f64,
    /// W5: milliseconds the bare fan-out floor run after the crowd lets events gather (0 skips
    /// the floor); 50 is what Fathom's hub waits with 10,000 connections.
    #[arg(long, default_value_t = 50)]
    w5_floor_gather_ms: u64,
    /// W7: creates a second in the webhook latency phases.
    #[arg(long, default_value_t = 100.0)]
    w7_rate: f64,
    /// W7: endpoints of the fan-out phases.
    #[arg(long, default_value_t = 20)]
    w7_endpoints: usize,
    /// W7: a NATS server with JetStream (`nats://127.0.0.1:4222`) for the NATS sink's phases;
    /// without it (nor the variable) they are skipped. `source scripts/brokers.sh &&
    /// brokers_start` exports the variable.
    #[arg(long, env = "FATHOM_TEST_NATS_URL", hide_env_values = true)]
    w7_nats_url: Option<String>,
    /// W7: a RabbitMQ node (`amqp://user:password@127.0.0.1:5672/%2f`) for the RabbitMQ sink's
    /// phases; without it (nor the variable) they are skipped.
    #[arg(long, env = "FATHOM_TEST_AMQP_URL", hide_env_values = true)]
    w7_amqp_url: Option<String>,
    /// W7: the sinks' `in_flight` (messages awaiting the broker's acknowledgement); each
    /// broker's phases run once per value, side by side (1 waits for each message).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 64])]
    w7_sink_in_flight: Vec<usize>,
    /// A `fathom` binary built from `main` (before the outbox): W1 then also runs against it and
    /// this build, fresh servers taking turns (`scripts/bench.sh` builds it into
    /// target/bench/fathom-main).
    #[arg(long)]
    fathom_main_bin: Option<PathBuf>,
    /// More configuration for every Fathom server of the run, as `KEY=VALUE` environment
    /// variables (`--fathom-env FATHOM_WEBHOOKS__IN_FLIGHT=8`); repeatable. The caller's own
    /// FATHOM_* variables never reach the servers.
    #[arg(long, value_parser = parse_env_pair)]
    fathom_env: Vec<(String, String)>,
    /// `operations`: a Redis (`redis://127.0.0.1:6379`) for the variant with rate limits shared
    /// through it; without it that variant is skipped.
    #[arg(long)]
    redis_url: Option<String>,
    /// `cache`: run both servers on PostgreSQL, each on a scratch database created (and dropped)
    /// on the server of this superuser's URL (`postgres://postgres@127.0.0.1:5432/postgres`).
    #[arg(long)]
    pg_admin_url: Option<String>,
    /// `operations`: also measure traces exported over OTLP (the `fathom` binary must be built
    /// with `--features otel`).
    #[arg(long)]
    traces: bool,
    /// Where to write the results (the Markdown table goes beside it, as results.md).
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct BaselineArgs {
    /// The SQLite file (created if missing).
    #[arg(long)]
    db: PathBuf,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    #[arg(long, default_value_t = 4)]
    readers: usize,
    #[arg(long, default_value = "full")]
    durability: String,
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn read_results(path: &Path) -> anyhow::Result<Results> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Results::from_json(&text).with_context(|| format!("parsing {}", path.display()))
}

async fn run_suite(args: SuiteArgs) -> anyhow::Result<()> {
    let fathom_bin = match args.fathom_bin {
        Some(path) => path,
        None => std::env::current_exe()
            .context("finding this binary")?
            .with_file_name("fathom"),
    };
    let options = suite::SuiteOptions {
        fathom_bin,
        records: if args.large { 1_000_000 } else { args.records },
        duration: Duration::from_secs_f64(args.duration),
        rounds: args.rounds,
        warmup: Duration::from_secs_f64(args.warmup),
        max_requests: args.max_requests,
        concurrency: args.concurrency,
        open_rate: args.open_rate,
        users: args.users,
        login_concurrency: args.login_concurrency,
        flood_read_concurrency: args.flood_read_concurrency,
        durability: args.durability,
        baseline_readers: args.baseline_readers,
        only: if args.w5_only {
            vec!["W5".to_owned()]
        } else {
            args.only
        },
        w5: W5Options {
            subscribers: args.subscribers,
            burst: args.w5_burst,
            writers: args.w5_writers,
            rounds: args.rounds,
            transports: args.w5_transports,
            crowd: args.w5_crowd,
            idle_seconds: args.w5_idle_seconds,
            crowd_rate: args.w5_crowd_rate,
            crowd_seconds: args.w5_crowd_seconds,
            local_addresses: args.w5_local_addresses,
            connect_concurrency: args.w5_connect_concurrency,
            quiet: Duration::from_secs_f64(args.w5_quiet_seconds.max(0.1)),
            floor_gather: Duration::from_millis(args.w5_floor_gather_ms),
        },
        w7: W7Options {
            rate: args.w7_rate,
            seconds: args.duration,
            endpoints: args.w7_endpoints,
            nats_url: args.w7_nats_url,
            amqp_url: args.w7_amqp_url,
            sink_in_flight: args.w7_sink_in_flight,
        },
        fathom_main_bin: args.fathom_main_bin,
        fathom_env: args.fathom_env,
        redis_url: args.redis_url,
        traces: args.traces,
        pg_admin_url: args.pg_admin_url,
    };
    show_open_files_limit();
    let results = suite::run(&options).await?;
    let table = format!(
        "{}\n{}{}",
        report::results_table(&results),
        report::results_footer(&results),
        docs::extra_tables(&results)
    );
    println!("\n{table}");
    write(&args.out, &results.to_json()?)?;
    write(&args.out.with_file_name("results.md"), &table)?;
    println!("results written to {}", args.out.display());
    Ok(())
}

/// W5 holds thousands of connections: one descriptor each here, and one each in the server,
/// which inherits this process's limit. `scripts/bench.sh` raises the soft limit to the hard one
/// (`ulimit -n`); this says what the run has.
fn show_open_files_limit() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) {
        println!("{}", line.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}

async fn run_baseline(args: BaselineArgs) -> anyhow::Result<()> {
    let db = baseline::Db::open(&args.db, args.readers, &args.durability)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    // The same announcement `fathom serve` makes in its JSON log, read by the suite.
    println!(
        "{}",
        serde_json::json!({ "message": "listening", "address": address.to_string() })
    );
    baseline::serve(listener, db, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Suite(args) => run_suite(*args).await,
        Command::Baseline(args) => run_baseline(args).await,
        Command::Chart { results, out } => {
            write(&out, &chart::render(&read_results(&results)?))?;
            println!("chart written to {}", out.display());
            Ok(())
        }
        Command::Docs { results, doc } => {
            let document = std::fs::read_to_string(&doc)
                .with_context(|| format!("reading {}", doc.display()))?;
            let section = docs::results_section(&read_results(&results)?);
            write(&doc, &docs::replace_between_markers(&document, &section)?)?;
            println!("figures written to {}", doc.display());
            Ok(())
        }
    }
}

/// `KEY=VALUE`, the key a FATHOM_ variable.
fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    if !key.starts_with("FATHOM_") {
        return Err(format!("`{key}` is not a FATHOM_ variable"));
    }
    Ok((key.to_owned(), value.to_owned()))
}
