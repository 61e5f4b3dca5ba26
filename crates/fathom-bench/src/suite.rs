//! The whole suite in one run: start Fathom and the baseline, create the users, seed both, run
//! every workload against both, check the targets, and assemble the results.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::client::{http_client, login, register_users};
use crate::fathom_server::{self, ADMIN_EMAIL, ADMIN_PASSWORD, FathomOptions};
use crate::loadgen::{Bounds, Load};
use crate::machine::Machine;
use crate::process::{ServerProcess, spawn_announcing};
use crate::results::{FORMAT_VERSION, Results, ServerFigures, Settings};
use crate::seed::{BATCH_SIZE, seed_baseline, seed_fathom};
use crate::w5::{self, W5Options, W5Server};
use crate::w7::{self, W7Options};
use crate::workloads::{Bench, Side};

/// Raised on the bench server so the bench's own logins are neither limited nor locked out.
const AUTH_LIMIT: u32 = 1_000_000;
/// How long a freshly started server settles before its idle RSS is read.
const SETTLE: Duration = Duration::from_millis(500);

/// What to run.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub fathom_bin: PathBuf,
    pub records: u64,
    /// Each side's measuring time in a workload, shared out over the rounds.
    pub duration: Duration,
    /// Fathom and the baseline take turns this many times in each workload.
    pub rounds: u32,
    pub warmup: Duration,
    pub max_requests: u64,
    pub concurrency: usize,
    pub open_rate: f64,
    pub users: usize,
    pub login_concurrency: usize,
    pub flood_read_concurrency: usize,
    pub durability: String,
    pub baseline_readers: usize,
    /// Workload ids to run ("W2", …, "outbox"); empty runs them all.
    pub only: Vec<String>,
    /// How W5 (realtime) runs.
    pub w5: W5Options,
    /// How W7 (webhook and broker delivery) runs.
    pub w7: W7Options,
    /// A `fathom` built from `main`: when given, W1 also runs against it and this build (the
    /// outbox's write cost).
    pub fathom_main_bin: Option<PathBuf>,
    /// More environment for every Fathom server (`--fathom-env`).
    pub fathom_env: Vec<(String, String)>,
    /// `operations`: the Redis of the shared rate limits' variant.
    pub redis_url: Option<String>,
    /// `operations`: also the traces' variant.
    pub traces: bool,
    /// `cache`: PostgreSQL's superuser URL, for a scratch database per server.
    pub pg_admin_url: Option<String>,
}

impl SuiteOptions {
    fn runs(&self, id: &str) -> bool {
        self.only.is_empty() || self.names(id)
    }

    /// Whether `--only` names `id`.
    fn names(&self, id: &str) -> bool {
        self.only.iter().any(|o| o.eq_ignore_ascii_case(id))
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Starts the baseline as a child process of this same binary (`fathom-bench baseline`), so it
/// has its own runtime and its memory can be measured like Fathom's.
fn start_baseline(db: &std::path::Path, options: &SuiteOptions) -> anyhow::Result<ServerProcess> {
    let exe = std::env::current_exe().context("finding the fathom-bench binary")?;
    let mut command = Command::new(exe);
    command
        .arg("baseline")
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0"])
        .args(["--readers", &options.baseline_readers.to_string()])
        .args(["--durability", &options.durability]);
    spawn_announcing(command, Duration::from_secs(30))
}

/// Runs the suite and answers its results (also printed as they come).
pub async fn run(options: &SuiteOptions) -> anyhow::Result<Results> {
    let date = now_rfc3339();
    let machine = Machine::detect();
    println!("fathom-bench, {date}\nmachine: {}", machine.describe());
    let fathom_options = FathomOptions {
        bin: options.fathom_bin.clone(),
        durability: options.durability.clone(),
        auth_rate_limit_per_minute: AUTH_LIMIT,
        lockout_threshold: AUTH_LIMIT,
        extra_environment: options.fathom_env.clone(),
    };
    let environment: Vec<String> = fathom_options
        .environment()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "durability: {} on both servers; Fathom's environment: {}",
        options.durability,
        environment.join(" ")
    );
    println!(
        "(the auth rate limit and lockout threshold are raised so the bench's own logins are \
         neither limited nor locked out)"
    );

    let start_options = fathom_options.clone();
    let fathom = tokio::task::spawn_blocking(move || fathom_server::start(&start_options))
        .await
        .context("the start-up task failed")??;
    tokio::time::sleep(SETTLE).await;
    let fathom_idle = fathom.process.rss_mib();
    let baseline_dir = tempfile::tempdir().context("creating the baseline's directory")?;
    let baseline_db = baseline_dir.path().join("baseline.db");
    let baseline = start_baseline(&baseline_db, options)?;
    tokio::time::sleep(SETTLE).await;
    let baseline_idle = baseline.rss_mib();
    let show = |v: Option<f64>| v.map_or("?".to_owned(), |m| format!("{m:.1} MiB"));
    println!(
        "Fathom at {} (pid {}, idle RSS {}), baseline at {} (idle RSS {})",
        fathom.process.address,
        fathom.process.pid(),
        show(fathom_idle),
        baseline.address,
        show(baseline_idle)
    );

    let client = http_client()?;
    let fathom_base = fathom.process.url("");
    let admin = login(&client, &fathom_base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let sessions = register_users(&client, &fathom_base, options.users.max(1)).await?;
    let owners: Vec<String> = sessions.iter().map(|s| s.user_id.clone()).collect();

    println!("seeding {} records into each server…", options.records);
    let fathom_seed = seed_fathom(
        &client,
        &fathom_base,
        &admin.access_token,
        options.records,
        &owners,
    )
    .await?;
    let baseline_seed =
        seed_baseline(&baseline_db, &options.durability, options.records, &owners).await?;
    let figures = |idle, rss, seed: &crate::seed::Seeded, method: String| ServerFigures {
        idle_rss_mib: idle,
        seeded_rss_mib: rss,
        seeded_records: seed.ids.len() as u64,
        seed_seconds: seed.elapsed.as_secs_f64(),
        seed_method: method,
    };
    let fathom_figures = figures(
        fathom_idle,
        fathom.process.rss_mib(),
        &fathom_seed,
        format!("POST /api/v1/batch, {BATCH_SIZE} creates a batch, 4 batches in flight"),
    );
    let baseline_figures = figures(
        baseline_idle,
        baseline.rss_mib(),
        &baseline_seed,
        "INSERT straight into the table, 10 000 rows a transaction".to_owned(),
    );
    println!(
        "seeded: Fathom {:.1} s, baseline {:.1} s\n",
        fathom_figures.seed_seconds, baseline_figures.seed_seconds
    );

    let bench = Bench {
        fathom: Side {
            base: fathom_base,
            client: client.clone(),
            pid: fathom.process.pid(),
            ids: Arc::new(fathom_seed.ids),
        },
        baseline: Side {
            base: baseline.url(""),
            client: http_client()?,
            pid: baseline.pid(),
            ids: Arc::new(baseline_seed.ids),
        },
        admin_token: Arc::from(admin.access_token.as_str()),
        users: Arc::new(sessions),
        bounds: Bounds {
            duration: options.duration,
            max_requests: options.max_requests,
        },
        rounds: options.rounds,
        warmup: options.warmup,
        concurrency: options.concurrency,
        open_rate: options.open_rate,
        login_concurrency: options.login_concurrency,
        flood_read_concurrency: options.flood_read_concurrency,
    };
    let reads = Load::Closed {
        concurrency: options.concurrency,
    };
    let open = Load::Open {
        rate_per_sec: options.open_rate,
        max_in_flight: 1024,
    };
    // Reads run first, on exactly the seeded records; creates come last.
    let mut workloads = Vec::new();
    if options.runs("W2") {
        workloads.push(bench.w2_get(reads).await);
        workloads.push(bench.w2_get(open).await);
    }
    if options.runs("W3") {
        workloads.push(bench.w3_page(Load::Closed { concurrency: 1 }).await);
        workloads.push(bench.w3_page(reads).await);
    }
    if options.runs("W4") {
        workloads.push(bench.w4_owner_page().await);
    }
    if options.runs("W6") {
        workloads.extend(bench.w6_logins().await);
    }
    if options.runs("W1") {
        workloads.push(bench.w1_create(1).await);
        workloads.push(bench.w1_create(32).await);
    }
    workloads.sort_by(|a, b| a.id.cmp(&b.id));

    let realtime = if options.runs("W5") {
        // A fresh token: the one from the start may be close to its expiry by now.
        let admin = login(&client, &bench.fathom.base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        let server = W5Server {
            address: fathom.process.address,
            pid: fathom.process.pid(),
            token: Arc::from(admin.access_token.as_str()),
            owners: Arc::new(owners.clone()),
        };
        Some(w5::run(&server, &options.w5).await?)
    } else {
        None
    };

    let delivery = if options.runs("W7") {
        let mut w7_options = options.w7.clone();
        w7_options.seconds = options.duration.as_secs_f64();
        Some(w7::run(&bench, &w7_options, &fathom_options).await?)
    } else {
        None
    };

    let loads = crate::targets::TargetLoads {
        reads: reads.describe(),
        writes: Load::Closed { concurrency: 32 }.describe(),
        page_latency: Load::Closed { concurrency: 1 }.describe(),
    };
    let mut targets = crate::targets::check(&workloads, &fathom_figures, options.records, &loads);
    if let Some(realtime) = &realtime {
        targets.extend(crate::targets::check_realtime(realtime));
    }
    let mut notes = vec![
        format!(
            "The load generator runs on the same {} CPUs as both servers (and, in this run, \
             beside whatever else the machine was doing: load average {:.2} at start), so \
             every figure is a floor for this machine, not a property of Fathom alone.",
            machine.cpus, machine.load_average
        ),
        "Fathom runs with its defaults otherwise: one JSON log line per request (written to a \
         pipe the bench drains, in batches at least every 100 ms), 4 reader connections, group \
         commit on one writer; the baseline logs nothing and commits each insert alone. Both \
         run on mimalloc."
            .to_owned(),
        "W6 logins have no baseline figure: the baseline has no authentication by design."
            .to_owned(),
        format!(
            "Open-loop latency is measured from each request's intended send time ({} requests a \
             second), so queueing behind a slow answer is counted (coordinated omission).",
            options.open_rate
        ),
    ];
    if let (Some(alone), Some(during)) = (
        workloads.iter().find(|w| w.name == "get by id, no logins"),
        workloads
            .iter()
            .find(|w| w.name == "get by id, during the login flood"),
    ) {
        notes.push(format!(
            "W6: Fathom's reads at {} p95 {:.2} ms alone and {:.2} ms during the login flood \
             ({:.1}×); throughput {:.0} → {:.0} req/s.",
            alone.load,
            alone.fathom.p95_ms,
            during.fathom.p95_ms,
            crate::report::ratio(during.fathom.p95_ms, alone.fathom.p95_ms).unwrap_or(0.0),
            alone.fathom.throughput,
            during.fathom.throughput
        ));
    }
    if realtime.is_some() {
        notes.push(crate::report::realtime::METHOD_NOTE.to_owned());
    }
    if let Some(delivery) = delivery {
        workloads.extend(delivery.workloads);
        notes.extend(delivery.notes);
    }
    drop(baseline);
    drop(fathom);
    let outbox_cost = match &options.fathom_main_bin {
        Some(main_bin) if options.runs("W1") || options.runs("outbox") => {
            let cost = crate::outbox_cost::run(&crate::outbox_cost::OutboxCostOptions {
                fathom: fathom_options.clone(),
                main_bin: main_bin.clone(),
                bounds: bench.bounds,
                rounds: options.rounds,
                warmup: options.warmup,
            })
            .await?;
            Some(cost)
        }
        _ => None,
    };
    let pair = crate::fathom_server::PairSettings {
        fathom: fathom_options.clone(),
        records: options.records,
        bounds: bench.bounds,
        rounds: options.rounds,
        warmup: options.warmup,
        concurrency: options.concurrency,
    };
    let encryption_cost = if options.runs("encryption") {
        Some(crate::encryption_cost::run(&pair).await?)
    } else {
        None
    };
    let ops_cost = if options.runs("operations") {
        let ops = crate::ops_cost::OpsCostOptions {
            pair: pair.clone(),
            redis_url: options.redis_url.clone(),
            traces: options.traces,
        };
        Some(crate::ops_cost::run(&ops).await?)
    } else {
        None
    };
    let shapes_cost = if options.runs("shapes") {
        Some(crate::shapes_cost::run(&pair).await?)
    } else {
        None
    };
    // Only when asked for by name: the before-binary must be main before the engine.
    let engine_cost = match &options.fathom_main_bin {
        Some(main_bin) if options.names("engine") => {
            Some(crate::engine_cost::run(&pair, main_bin).await?)
        }
        _ => None,
    };
    let cache_cost = if options.runs("cache") {
        let cache = crate::cache_cost::CacheCostOptions {
            pair,
            pg_admin_url: options.pg_admin_url.clone(),
        };
        Some(crate::cache_cost::run(&cache).await?)
    } else {
        None
    };
    Ok(Results {
        version: FORMAT_VERSION,
        date,
        machine,
        settings: Settings {
            records: options.records,
            seconds_per_workload: options.duration.as_secs_f64(),
            rounds: options.rounds,
            durability: options.durability.clone(),
            baseline_readers: options.baseline_readers,
            users: options.users,
            auth_rate_limit_per_minute: AUTH_LIMIT,
            lockout_threshold: AUTH_LIMIT,
            fathom_environment: environment,
        },
        fathom: fathom_figures,
        baseline: baseline_figures,
        workloads,
        targets,
        skipped: Vec::new(),
        notes,
        realtime,
        outbox_cost,
        encryption_cost,
        ops_cost,
        cache_cost,
        shapes_cost,
        engine_cost,
    })
}
