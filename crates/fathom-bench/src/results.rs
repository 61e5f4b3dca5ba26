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
