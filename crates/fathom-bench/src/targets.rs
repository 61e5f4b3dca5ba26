//! The benchmark issue's targets, checked against a run's figures.

use crate::results::{ServerFigures, TargetCheck, WorkloadResult};

/// The smallest share of the baseline's throughput Fathom should reach on W1 (32 workers) and W2.
pub const MIN_THROUGHPUT_SHARE: f64 = 0.60;
/// The highest W3 p95 latency, in milliseconds, on 100 000 records.
pub const MAX_PAGE_P95_MS: f64 = 10.0;
/// The highest idle resident memory, in MiB.
pub const MAX_IDLE_RSS_MIB: f64 = 40.0;

fn find<'a>(workloads: &'a [WorkloadResult], id: &str, load: &str) -> Option<&'a WorkloadResult> {
    workloads.iter().find(|w| w.id == id && w.load == load)
}

fn share(workloads: &[WorkloadResult], id: &str, load: &str, label: &str) -> Option<TargetCheck> {
    let workload = find(workloads, id, load)?;
    let share = workload.ratio.and_then(|r| r.throughput)?;
    Some(TargetCheck {
        target: format!(
            "{label} ≥ {:.0} % of the baseline's throughput",
            MIN_THROUGHPUT_SHARE * 100.0
        ),
        measured: format!(
            "{:.0} % ({:.0} vs {:.0} req/s)",
            share * 100.0,
            workload.fathom.throughput,
            workload.baseline.as_ref().map_or(0.0, |b| b.throughput)
        ),
        met: share >= MIN_THROUGHPUT_SHARE,
    })
}

/// The loads of the rows each target applies to.
#[derive(Debug, Clone)]
pub struct TargetLoads {
    /// The W2 row (closed loop at the suite's concurrency).
    pub reads: String,
    /// The W1 row with 32 workers.
    pub writes: String,
    /// The W3 row whose p95 is the page latency: one worker, so the figure is the time to answer
    /// a page rather than the time spent queueing behind 31 other requests on 2 CPUs.
    pub page_latency: String,
}

/// Checks every target the run has figures for.
pub fn check(
    workloads: &[WorkloadResult],
    fathom: &ServerFigures,
    records: u64,
    loads: &TargetLoads,
) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    checks.extend(share(workloads, "W2", &loads.reads, "W2 reads"));
    checks.extend(share(
        workloads,
        "W1",
        &loads.writes,
        "W1 creates, 32 workers",
    ));
    if let Some(page) = find(workloads, "W3", &loads.page_latency) {
        let loaded: Vec<String> = workloads
            .iter()
            .filter(|w| w.id == "W3" && w.load != loads.page_latency)
            .map(|w| format!("{:.2} ms at {}", w.fathom.p95_ms, w.load))
            .collect();
        let loaded = if loaded.is_empty() {
            String::new()
        } else {
            format!(" ({})", loaded.join(", "))
        };
        checks.push(TargetCheck {
            target: format!("W3 p95 < {MAX_PAGE_P95_MS:.0} ms on 100 000 records"),
            measured: format!(
                "{:.2} ms at {} on {records} records{loaded}",
                page.fathom.p95_ms, page.load
            ),
            met: page.fathom.p95_ms < MAX_PAGE_P95_MS,
        });
    }
    if let Some(rss) = fathom.idle_rss_mib {
        checks.push(TargetCheck {
            target: format!("idle RSS < {MAX_IDLE_RSS_MIB:.0} MiB"),
            measured: format!("{rss:.1} MiB"),
            met: rss < MAX_IDLE_RSS_MIB,
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Ratio, Summary};

    fn summary(throughput: f64, p95_ms: f64) -> Summary {
        Summary {
            requests: 100,
            errors: 0,
            seconds: 1.0,
            throughput,
            p50_ms: p95_ms / 2.0,
            p95_ms,
            p99_ms: p95_ms,
            max_ms: p95_ms,
            rss_mib: None,
            first_error: None,
            server_cpu_us: None,
        }
    }

    fn workload(id: &str, load: &str, fathom: Summary, baseline: Summary) -> WorkloadResult {
        WorkloadResult {
            id: id.into(),
            name: "x".into(),
            load: load.into(),
            ratio: Some(Ratio::of(&fathom, &baseline)),
            fathom,
            baseline: Some(baseline),
        }
    }

    #[test]
    fn checks_each_target() {
        let workloads = vec![
            workload(
                "W1",
                "closed, 1 worker",
                summary(10.0, 1.0),
                summary(100.0, 1.0),
            ),
            workload(
                "W1",
                "closed, 32 workers",
                summary(70.0, 1.0),
                summary(100.0, 1.0),
            ),
            workload(
                "W2",
                "closed, 32 workers",
                summary(50.0, 1.0),
                summary(100.0, 1.0),
            ),
            workload(
                "W3",
                "closed, 1 worker",
                summary(50.0, 9.5),
                summary(100.0, 1.0),
            ),
            workload(
                "W3",
                "closed, 32 workers",
                summary(50.0, 30.0),
                summary(100.0, 1.0),
            ),
        ];
        let fathom = ServerFigures {
            idle_rss_mib: Some(41.0),
            seeded_rss_mib: None,
            seeded_records: 0,
            seed_seconds: 0.0,
            seed_method: String::new(),
        };
        let loads = TargetLoads {
            reads: "closed, 32 workers".into(),
            writes: "closed, 32 workers".into(),
            page_latency: "closed, 1 worker".into(),
        };
        let checks = check(&workloads, &fathom, 100_000, &loads);
        let met: Vec<bool> = checks.iter().map(|c| c.met).collect();
        assert_eq!(met, [false, true, true, false]);
        assert_eq!(checks[0].measured, "50 % (50 vs 100 req/s)");
        assert_eq!(
            checks[2].measured,
            "9.50 ms at closed, 1 worker on 100000 records (30.00 ms at closed, 32 workers)"
        );
    }
}
