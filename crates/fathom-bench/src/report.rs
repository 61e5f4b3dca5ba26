//! Turning measurements into figures: a run's summary (throughput and latency percentiles from
//! its HDR histogram), Fathom/baseline ratios, and the Markdown table printed after a run and
//! kept in `docs/BENCHMARKS.md`.

pub mod realtime;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::loadgen::Outcome;
use crate::results::Results;

/// The figures of one run against one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Successful requests.
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Successful requests per second.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The server's resident memory after the run.
    pub rss_mib: Option<f64>,
    pub first_error: Option<String>,
    /// The server process's CPU time (user + system) per successful request, in microseconds.
    #[serde(default)]
    pub server_cpu_us: Option<f64>,
}

impl Summary {
    pub fn from_outcome(outcome: &Outcome, rss_mib: Option<f64>) -> Self {
        let h = &outcome.latencies;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let seconds = outcome.elapsed.as_secs_f64();
        let requests = h.len();
        Self {
            requests,
            errors: outcome.errors,
            seconds,
            throughput: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            rss_mib,
            first_error: outcome.first_error.clone(),
            server_cpu_us: None,
        }
    }

    /// Adds the server's CPU time spent during the run (`None` when it could not be read).
    pub fn with_server_cpu(mut self, cpu_seconds: Option<f64>) -> Self {
        self.server_cpu_us = cpu_seconds.and_then(|s| ratio(s * 1e6, self.requests as f64));
        self
    }
}

/// Fathom's figures divided by the baseline's. Throughput below 1 means Fathom serves less;
/// latency above 1 means Fathom answers slower.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub throughput: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// Server CPU time per request.
    #[serde(default)]
    pub cpu: Option<f64>,
}

/// `numerator / denominator`, or `None` when the denominator is not a positive number.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0 && numerator.is_finite() && denominator.is_finite())
        .then(|| numerator / denominator)
}

impl Ratio {
    pub fn of(fathom: &Summary, baseline: &Summary) -> Self {
        Self {
            throughput: ratio(fathom.throughput, baseline.throughput),
            p50: ratio(fathom.p50_ms, baseline.p50_ms),
            p95: ratio(fathom.p95_ms, baseline.p95_ms),
            p99: ratio(fathom.p99_ms, baseline.p99_ms),
            cpu: fathom
                .server_cpu_us
                .zip(baseline.server_cpu_us)
                .and_then(|(f, b)| ratio(f, b)),
        }
    }
}

fn number(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn times(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}×"))
}

fn thousands(value: f64) -> String {
    let whole = value.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (n, c) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn summary_cells(server: &str, s: &Summary) -> Vec<String> {
    vec![
        server.to_owned(),
        thousands(s.throughput),
        number(s.p50_ms),
        number(s.p95_ms),
        number(s.p99_ms),
        number(s.max_ms),
        s.errors.to_string(),
        s.server_cpu_us
            .map_or_else(|| "–".into(), |c| format!("{c:.0}")),
        s.rss_mib.map_or_else(|| "–".into(), |m| format!("{m:.1}")),
    ]
}

/// A Markdown table whose columns are padded to line up in a terminal too. The first
/// `left_columns` columns are left-aligned, the rest right-aligned.
pub fn markdown_table(header: &[&str], rows: &[Vec<String>], left_columns: usize) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .chain([header[c].chars().count(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let width = widths.get(c).copied().unwrap_or(0);
                if c < left_columns {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, w)| {
            if c < left_columns {
                "-".repeat(w + 2)
            } else {
                format!("{}:", "-".repeat(w + 1))
            }
        })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// The results table: per workload a Fathom row, a baseline row and a Fathom/baseline row.
pub fn results_table(results: &Results) -> String {
    let header = [
        "workload",
        "load",
        "server",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "CPU µs/req",
        "RSS MiB",
    ];
    let mut rows = Vec::new();
    for w in &results.workloads {
        let title = format!("{} {}", w.id, w.name);
        let mut first = vec![title, w.load.clone()];
        first.extend(summary_cells("Fathom", &w.fathom));
        rows.push(first);
        let blank = || vec![String::new(), String::new()];
        match (&w.baseline, &w.ratio) {
            (Some(baseline), Some(r)) => {
                let mut row = blank();
                row.extend(summary_cells("baseline", baseline));
                rows.push(row);
                let mut row = blank();
                row.extend([
                    "Fathom/baseline".to_owned(),
                    times(r.throughput),
                    times(r.p50),
                    times(r.p95),
                    times(r.p99),
                    String::new(),
                    String::new(),
                    times(r.cpu),
                    String::new(),
                ]);
                rows.push(row);
            }
            _ => {
                let mut row = blank();
                row.extend(["baseline".to_owned(), "n/a".to_owned()]);
                row.extend((0..7).map(|_| String::new()));
                rows.push(row);
            }
        }
    }
    markdown_table(&header, &rows, 3)
}

/// The lines under the table: memory, seeding, targets, skipped workloads, notes.
pub fn results_footer(results: &Results) -> String {
    let mut out = String::new();
    let mib = |v: Option<f64>| v.map_or_else(|| "?".into(), |m| format!("{m:.1} MiB"));
    for (name, server) in [("Fathom", &results.fathom), ("baseline", &results.baseline)] {
        let _ = writeln!(
            out,
            "- {name}: idle RSS {}, {} after seeding; seeded {} records in {:.1} s ({}/s, {}).",
            mib(server.idle_rss_mib),
            mib(server.seeded_rss_mib),
            thousands(server.seeded_records as f64),
            server.seed_seconds,
            thousands(ratio(server.seeded_records as f64, server.seed_seconds).unwrap_or(0.0)),
            server.seed_method
        );
    }
    for target in &results.targets {
        let _ = writeln!(
            out,
            "- Target {}: {} — **{}**.",
            target.target,
            target.measured,
            if target.met { "met" } else { "missed" }
        );
    }
    for skipped in &results.skipped {
        let _ = writeln!(
            out,
            "- {} {}: skipped — {}",
            skipped.id, skipped.name, skipped.reason
        );
    }
    for note in &results.notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::loadgen::{Outcome, new_histogram};

    fn outcome_of_millis(values: impl IntoIterator<Item = u64>, seconds: u64) -> Outcome {
        let mut latencies = new_histogram();
        for ms in values {
            latencies.record(ms * 1000).expect("in range");
        }
        Outcome {
            latencies,
            errors: 2,
            elapsed: Duration::from_secs(seconds),
            first_error: Some("boom".into()),
        }
    }

    #[test]
    fn summary_has_percentiles_and_throughput() {
        let summary = Summary::from_outcome(&outcome_of_millis(1..=100, 4), Some(12.5));
        assert_eq!(summary.requests, 100);
        assert_eq!(summary.errors, 2);
        assert!((summary.throughput - 25.0).abs() < 1e-9);
        // Three significant digits: within 0.1 % of the exact value.
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 1e-9;
        assert!(close(summary.p50_ms, 50.0), "{}", summary.p50_ms);
        assert!(close(summary.p95_ms, 95.0), "{}", summary.p95_ms);
        assert!(close(summary.p99_ms, 99.0), "{}", summary.p99_ms);
        assert!(close(summary.max_ms, 100.0), "{}", summary.max_ms);
        assert_eq!(summary.rss_mib, Some(12.5));
    }

    #[test]
    fn empty_run_is_all_zero() {
        let summary = Summary::from_outcome(&Outcome::empty(), None);
        assert_eq!(summary.requests, 0);
        assert_eq!(summary.throughput, 0.0);
        assert_eq!(summary.p95_ms, 0.0);
    }

    #[test]
    fn ratios_divide_fathom_by_baseline() {
        assert_eq!(ratio(30.0, 60.0), Some(0.5));
        assert_eq!(ratio(30.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
        let fathom = Summary::from_outcome(&outcome_of_millis([4, 4, 4, 4], 1), None);
        let baseline = Summary::from_outcome(&outcome_of_millis([2; 8], 1), None);
        let r = Ratio::of(&fathom, &baseline);
        assert_eq!(r.throughput, Some(0.5));
        // Histogram buckets carry three significant digits.
        let p50 = r.p50.expect("a ratio");
        assert!((p50 - 2.0).abs() < 0.01, "{p50}");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }

    #[test]
    fn table_lines_up() {
        let rows = vec![
            vec!["W1 create".to_owned(), "12".to_owned()],
            vec!["W22".to_owned(), "3,456".to_owned()],
        ];
        let table = markdown_table(&["workload", "req/s"], &rows, 1);
        assert_eq!(
            table,
            "| workload  | req/s |\n|-----------|------:|\n| W1 create |    12 |\n| W22       | 3,456 |\n"
        );
    }
}
