//! The figures kept for one shape (calls, latency histogram, rows), how two sets of them merge
//! (this node's with the persisted ones, one node's with another's), and the stable key a shape
//! is persisted under.

use sha2::{Digest, Sha256};

use super::histogram::Histogram;
use super::{QueryShape, ShapeStats};

/// What one read measured.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    pub micros: u64,
    /// Rows returned (for a count: the count).
    pub rows: u64,
    pub scan: Scan,
}

impl Sample {
    /// The sample of a read that started at `started` and answered `rows`.
    pub(crate) fn of(started: std::time::Instant, rows: u64, scan: Scan) -> Self {
        Self {
            micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            rows,
            scan,
        }
    }
}

/// SQLite's statement status counters for one run; `None` on PostgreSQL.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scan {
    pub visited: Option<u64>,
    pub sorts: Option<u64>,
}

/// Summed figures of one shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Figures {
    pub calls: u64,
    pub total_micros: u64,
    pub max_micros: u64,
    pub rows_returned: u64,
    pub rows_visited: Option<u64>,
    pub sorts: Option<u64>,
    pub histogram: Histogram,
    pub last_seen_ms: i64,
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    }
}

impl Figures {
    pub(crate) fn record(&mut self, sample: &Sample, now_ms: i64) {
        self.calls += 1;
        self.total_micros = self.total_micros.saturating_add(sample.micros);
        self.max_micros = self.max_micros.max(sample.micros);
        self.rows_returned = self.rows_returned.saturating_add(sample.rows);
        self.rows_visited = add(self.rows_visited, sample.scan.visited);
        self.sorts = add(self.sorts, sample.scan.sorts);
        self.histogram.record(sample.micros);
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
    }

    /// Adds `other`'s counts, keeps the larger maximum and the later last-seen time.
    pub(crate) fn merge(&mut self, other: &Figures) {
        self.calls = self.calls.saturating_add(other.calls);
        self.total_micros = self.total_micros.saturating_add(other.total_micros);
        self.max_micros = self.max_micros.max(other.max_micros);
        self.rows_returned = self.rows_returned.saturating_add(other.rows_returned);
        self.rows_visited = add(self.rows_visited, other.rows_visited);
        self.sorts = add(self.sorts, other.sorts);
        self.histogram.merge(&other.histogram);
        self.last_seen_ms = self.last_seen_ms.max(other.last_seen_ms);
    }

    /// The published figures, percentiles recomputed from the histogram.
    pub(crate) fn stats(&self) -> ShapeStats {
        ShapeStats {
            calls: self.calls,
            total_micros: self.total_micros,
            max_micros: self.max_micros,
            p50_micros: self.histogram.percentile(0.50, self.max_micros),
            p95_micros: self.histogram.percentile(0.95, self.max_micros),
            p99_micros: self.histogram.percentile(0.99, self.max_micros),
            rows_returned: self.rows_returned,
            rows_visited: self.rows_visited,
            sorts: self.sorts,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

/// The key a shape is persisted under: the same on every node and across restarts (a digest of
/// its JSON form; the in-memory hash is not meant to be stable).
pub(crate) fn persisted_key(shape: &QueryShape) -> String {
    let json = serde_json::to_vec(shape).unwrap_or_default();
    let digest = Sha256::digest(&json);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The figures as stored in `_fathom_query_shapes`: integers in range for a signed 64-bit
/// column, the histogram as a JSON array.
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// One persisted row, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Persisted {
    pub key: String,
    pub shape: QueryShape,
    pub figures: Figures,
}
