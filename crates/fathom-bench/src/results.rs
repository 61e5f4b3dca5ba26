//! The results of one suite run, as written to `target/bench/results.json` and read back by the
//! chart and the docs table. Field names are the JSON format: only add fields.

use serde::{Deserialize, Serialize};

use crate::machine::Machine;
use crate::report::{Ratio, Summary};

/// The version of this JSON format.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub version: u32,
    /// When the run started (RFC 3339, UTC).
    pub date: String,
    pub machine: Machine,
    pub settings: Settings,
    pub fathom: ServerFigures,
    pub baseline: ServerFigures,
    pub workloads: Vec<WorkloadResult>,
    pub targets: Vec<TargetCheck>,
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
    /// W5, realtime delivery (absent when it was not run, and in results from before it).
    #[serde(default)]
    pub realtime: Option<RealtimeResults>,
    /// W1 against a `fathom` built from `main` (before the outbox) and this build, in the same
    /// run (absent unless the suite was given `--fathom-main-bin`).
    #[serde(default)]
    pub outbox_cost: Option<AgainstMain>,
    /// W1 and W2 with two fields encrypted against the same schema in clear, and key rotation's
    /// speed (absent unless the suite ran `encryption`).
    #[serde(default)]
    pub encryption_cost: Option<EncryptionCost>,
    /// W2 with metrics, rate limits (per node, in Redis) and traces each switched on, against
    /// a server with all of them off (absent unless the suite ran `operations`).
    #[serde(default)]
    pub ops_cost: Option<OpsCost>,
    /// The result cache: W3 with `count=true` (and W2 for reference) on a server whose items
    /// are cached against one whose are not (absent unless the suite ran `cache`).
    #[serde(default)]
    pub cache_cost: Option<CacheCost>,
    /// W2 and W3 on a server recording query shapes against one with recording off (absent
    /// unless the suite ran `shapes`).
    #[serde(default)]
    pub shapes_cost: Option<ShapesCost>,
    /// W1–W4 against a `fathom` built from `main` before the records engine and this build
    /// (absent unless the suite ran `engine` with `--fathom-main-bin`).
    #[serde(default)]
    pub engine_cost: Option<AgainstMain>,
}

/// W5: subscribers on one collection and one writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealtimeResults {
    /// Concurrent workers of the writer (each sends its next create when the last one answered).
    pub writers: usize,
    /// Creates in each burst.
    pub burst: u64,
    /// Each subscriber count was measured this many times, in alternating rounds.
    pub rounds: u32,
    /// Local addresses (127.0.0.x) the subscribers connect from.
    pub local_addresses: usize,
    /// One row per subscriber count (0 is the writer's baseline).
    pub bursts: Vec<BurstRun>,
    /// Many idle connections held, then written to at a steady rate.
    pub crowd: Option<CrowdRun>,
}

/// A burst of creates with `subscribers` connected (half SSE, half WebSocket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstRun {
    pub subscribers: usize,
    pub sse: usize,
    pub websocket: usize,
    /// The writer's creates: throughput, latency, errors, server CPU per create (fan-out
    /// included) and the server's RSS with the subscribers connected.
    pub writer: Summary,
    pub delivery: Delivery,
    /// Where the CPU went while the writer ran and the events were delivered.
    #[serde(default)]
    pub cpu: Option<PhaseCpu>,
}

/// CPU time of a phase (from the writer's first create to the last delivery), added up over its
/// rounds: the server's and the bench's own (writer and subscribers), which share the machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseCpu {
    pub seconds: f64,
    pub server_cpu_seconds: f64,
    pub bench_cpu_seconds: f64,
}

impl PhaseCpu {
    pub fn plus(self, other: PhaseCpu) -> PhaseCpu {
        PhaseCpu {
            seconds: self.seconds + other.seconds,
            server_cpu_seconds: self.server_cpu_seconds + other.server_cpu_seconds,
            bench_cpu_seconds: self.bench_cpu_seconds + other.bench_cpu_seconds,
        }
    }
}

/// What the subscribers of a phase received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Subscribers that went live.
    pub subscribers: u64,
    /// Subscribers that could not connect or go live.
    pub connect_failures: u64,
    pub first_connect_error: Option<String>,
    /// Events every subscriber should have received (creates answered 201), summed over rounds.
    pub expected_each: u64,
    /// Events received in sequence order, over all subscribers.
    pub received: u64,
    /// Expected events a subscriber did not receive, over all subscribers.
    pub lost: u64,
    /// Events received with a sequence below one already received.
    pub out_of_order: u64,
    /// Events received twice.
    pub duplicates: u64,
    /// Subscribers whose connection ended before the phase did (lagged, closed, failed).
    pub ended_early: u64,
    pub first_end: Option<String>,
    /// Commit-to-receipt latency (receive instant minus the event's `committed_at`).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Many connections opened and held idle, then a steady stream of creates delivered to all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrowdRun {
    /// Connections asked for, and how many of them use each transport.
    pub asked: usize,
    #[serde(default)]
    pub sse: usize,
    #[serde(default)]
    pub websocket: usize,
    /// Seconds it took to open them all and see every subscription live.
    pub connect_seconds: f64,
    /// Server RSS before the first connection and while they were held, in MiB.
    pub rss_before_mib: Option<f64>,
    pub rss_held_mib: Option<f64>,
    /// Seconds the connections were held idle before the probe.
    pub idle_seconds: f64,
    /// Connections still open after the idle period that received one probe event.
    pub held: u64,
    /// The steady writer's target rate (creates a second) and its figures; `None` when the
    /// steady phase was not run.
    pub rate_per_sec: f64,
    pub writer: Option<Summary>,
    /// Delivery of the probe and the steady creates.
    pub delivery: Delivery,
    /// CPU of the steady phase.
    #[serde(default)]
    pub cpu: Option<PhaseCpu>,
    /// The bare fan-out floor with the same connections, rate and duration (`floor.rs`).
    #[serde(default)]
    pub floor: Option<FloorRun>,
}

/// Workloads against a `fathom` built from an earlier commit of `main` (the before-binary) and
/// this build, alternating rounds: the outbox's write cost (W1, both servers fresh and empty) and
/// the records engine's (W1–W4, both seeded alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgainstMain {
    /// The `main` commit the before-binary was built from, when known.
    pub main_commit: Option<String>,
    /// One row per workload and load: `fathom` is this build, `baseline` is main.
    pub rows: Vec<WorkloadResult>,
}

/// The cost of encrypted fields: `fathom` is the server with two fields encrypted (one with a
/// blind index), `baseline` the same schema in clear; and the rotation that followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncryptionCost {
    pub rows: Vec<WorkloadResult>,
    pub rotation: Rotation,
}

/// One W2 row per operations feature: the server with it on against the one with all off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpsCost {
    pub rows: Vec<WorkloadResult>,
}

/// The result cache: rows measured against two servers of this build, `fathom` with
/// `cache = "30s"` on `items`, `baseline` the same schema without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheCost {
    pub rows: Vec<WorkloadResult>,
}

/// Query-shape recording: rows measured against two servers of this build, `fathom` recording
/// shapes, `baseline` with `architect.record_shapes = false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapesCost {
    pub rows: Vec<WorkloadResult>,
}

/// `fathom keys rotate-data` over every record of the encrypted server, while it served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rotation {
    pub records: u64,
    pub seconds: f64,
    pub records_per_second: f64,
}

fn one_round() -> u32 {
    1
}

/// How the run was configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub records: u64,
    pub seconds_per_workload: f64,
    /// Fathom and the baseline took turns this many times in each workload (1 in results
    /// written before rounds existed).
    #[serde(default = "one_round")]
    pub rounds: u32,
    /// `database.durability` of both servers (`full` is `synchronous=FULL`).
    pub durability: String,
    /// Reader connections of the baseline (Fathom's default is also 4).
    pub baseline_readers: usize,
    /// Non-admin users who own the rows (W4) and log in (W6).
    pub users: usize,
    pub auth_rate_limit_per_minute: u32,
    pub lockout_threshold: u32,
    /// The environment given to the Fathom process.
    pub fathom_environment: Vec<String>,
}

/// Per-server figures outside the workloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFigures {
    /// Resident memory right after start, before seeding.
    pub idle_rss_mib: Option<f64>,
    /// Resident memory after seeding.
    pub seeded_rss_mib: Option<f64>,
    pub seeded_records: u64,
    pub seed_seconds: f64,
    /// How the records went in ("POST /api/v1/batch, 100 per batch", "direct INSERT").
    pub seed_method: String,
}

/// One workload, measured against both servers (or Fathom alone, where the baseline has no
/// equivalent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    /// "W1" … "W6".
    pub id: String,
    pub name: String,
    /// How it was loaded ("closed, 32 workers" / "open, 2000/s").
    pub load: String,
    pub fathom: Summary,
    pub baseline: Option<Summary>,
    /// Fathom / baseline.
    pub ratio: Option<Ratio>,
}

/// One target from the benchmark issue and whether the run met it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// A workload that was not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub id: String,
    pub name: String,
    pub reason: String,
}

impl Results {
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        Ok(serde_json::from_str(text)?)
    }
}

/// The bare fan-out floor (`floor.rs`): loopback sockets and pre-encoded lines, nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloorRun {
    pub connections: usize,
    pub rate_per_sec: f64,
    /// How long lines gathered before each hand-out.
    pub gather_ms: f64,
    pub expected: u64,
    pub delivered: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU seconds the bench process spent per second of the run (writers and readers).
    pub cpu_per_sec: Option<f64>,
}
