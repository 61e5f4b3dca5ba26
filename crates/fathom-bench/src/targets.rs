//! The benchmark issue's targets, checked against a run's figures.

use crate::report::ratio;
use crate::results::{RealtimeResults, ServerFigures, TargetCheck, WorkloadResult};

/// The smallest share of the baseline's throughput Fathom should reach on W1 (32 workers) and W2.
pub const MIN_THROUGHPUT_SHARE: f64 = 0.60;
/// The highest W3 p95 latency, in milliseconds, on 100 000 records.
pub const MAX_PAGE_P95_MS: f64 = 10.0;
/// The highest idle resident memory, in MiB.
pub const MAX_IDLE_RSS_MIB: f64 = 40.0;

/// W5: the subscriber count and burst size of the delivery target.
pub const W5_BURST_SUBSCRIBERS: usize = 100;
pub const W5_BURST_CREATES: u64 = 1_000;
/// W5: the highest p99 commit-to-receipt latency of that burst, in milliseconds.
pub const W5_BURST_P99_MS: f64 = 20.0;
/// W5: the smallest share of the 0-subscriber writer throughput the writer keeps with 100.
pub const W5_MIN_WRITER_SHARE: f64 = 0.50;
/// W5: idle connections one node should hold.
pub const W5_CROWD: usize = 10_000;
/// W5: the rate at which the crowd is written to, and its highest p99 delivery latency.
pub const W5_CROWD_RATE: f64 = 100.0;
pub const W5_CROWD_P99_MS: f64 = 250.0;

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

/// Checks the W5 targets the run has figures for (a run with other subscriber counts, burst
/// sizes or rates checks none of them rather than a different target).
pub fn check_realtime(realtime: &RealtimeResults) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    let burst = |n: usize| realtime.bursts.iter().find(|b| b.subscribers == n);
    if let Some(run) = burst(W5_BURST_SUBSCRIBERS).filter(|_| realtime.burst == W5_BURST_CREATES) {
        let d = &run.delivery;
        checks.push(TargetCheck {
            target: format!(
                "W5 {W5_BURST_SUBSCRIBERS} subscribers × {W5_BURST_CREATES} burst creates: 0 lost, 0 out of order"
            ),
            measured: format!(
                "{} lost, {} out of order, {} duplicates of {} expected deliveries ({} rounds, {} connections ended early, {} failed to connect)",
                d.lost,
                d.out_of_order,
                d.duplicates,
                d.expected_each * d.subscribers,
                realtime.rounds,
                d.ended_early,
                d.connect_failures
            ),
            met: d.lost == 0
                && d.out_of_order == 0
                && d.duplicates == 0
                && d.connect_failures == 0
                && d.subscribers == W5_BURST_SUBSCRIBERS as u64,
        });
        checks.push(TargetCheck {
            target: format!(
                "W5 {W5_BURST_SUBSCRIBERS} subscribers: p99 delivery < {W5_BURST_P99_MS:.0} ms"
            ),
            measured: format!(
                "p99 {:.2} ms (p50 {:.2}, p95 {:.2}, max {:.2})",
                d.p99_ms, d.p50_ms, d.p95_ms, d.max_ms
            ),
            met: d.received > 0 && d.p99_ms < W5_BURST_P99_MS,
        });
        if let Some(alone) = burst(0) {
            let share = ratio(run.writer.throughput, alone.writer.throughput).unwrap_or(0.0);
            checks.push(TargetCheck {
                target: format!(
                    "W5 writer with {W5_BURST_SUBSCRIBERS} subscribers ≥ {:.0} % of its throughput without",
                    W5_MIN_WRITER_SHARE * 100.0
                ),
                measured: format!(
                    "{:.0} % ({:.0} vs {:.0} creates/s, {})",
                    share * 100.0,
                    run.writer.throughput,
                    alone.writer.throughput,
                    writers(realtime.writers)
                ),
                met: share >= W5_MIN_WRITER_SHARE,
            });
        }
    }
    if let Some(crowd) = realtime.crowd.as_ref().filter(|c| c.asked == W5_CROWD) {
        let rss = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |m| format!("{m:.1} MiB"));
        let per_connection = crowd
            .rss_held_mib
            .zip(crowd.rss_before_mib)
            .and_then(|(held, before)| ratio((held - before) * 1024.0, crowd.held as f64))
            .map_or_else(String::new, |kib| format!(", {kib:.0} KiB a connection"));
        checks.push(TargetCheck {
            target: format!("W5 {W5_CROWD} idle connections held (RSS stated)"),
            measured: format!(
                "{} of {} held (opened in {:.1} s, idle {:.0} s, each delivered a probe event); server RSS {} before, {} held{per_connection}",
                crowd.held,
                crowd.asked,
                crowd.connect_seconds,
                crowd.idle_seconds,
                rss(crowd.rss_before_mib),
                rss(crowd.rss_held_mib)
            ),
            met: crowd.held == W5_CROWD as u64,
        });
        if let Some(writer) = crowd
            .writer
            .as_ref()
            .filter(|_| crowd.rate_per_sec == W5_CROWD_RATE)
        {
            let d = &crowd.delivery;
            checks.push(TargetCheck {
                target: format!(
                    "W5 {W5_CROWD} subscribers at {W5_CROWD_RATE:.0} events/s: p99 delivery < {W5_CROWD_P99_MS:.0} ms, nothing lost"
                ),
                measured: format!(
                    "p99 {:.1} ms (p50 {:.1}, p95 {:.1}, max {:.1}); {} subscribers, {} lost, {} out of order, {} ended early; writer {:.0} creates/s",
                    d.p99_ms,
                    d.p50_ms,
                    d.p95_ms,
                    d.max_ms,
                    d.subscribers,
                    d.lost,
                    d.out_of_order,
                    d.ended_early,
                    writer.throughput
                ) + &crowd.floor.as_ref().map(|f| format!(
                    "; the bare fan-out floor on this machine in the same run (loopback sockets, pre-encoded lines gathered {:.0} ms, no server): p99 {:.1} ms (p50 {:.1}), {} of {} delivered",
                    f.gather_ms, f.p99_ms, f.p50_ms, f.delivered, f.expected
                )).unwrap_or_default(),
                met: d.received > 0
                    && d.p99_ms < W5_CROWD_P99_MS
                    && d.lost == 0
                    && d.out_of_order == 0
                    && d.subscribers == W5_CROWD as u64,
            });
        }
    }
    checks
}

fn writers(n: usize) -> String {
    if n == 1 {
        "1 writer worker".to_owned()
    } else {
        format!("{n} writer workers")
    }
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
