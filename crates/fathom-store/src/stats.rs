//! What the store tells an operator about its own load, read at scrape time by the API's
//! `/metrics`: the SQLite writer's queue and group commits, or the PostgreSQL pool.

use prometheus_client::metrics::histogram::Histogram;

/// Group-commit sizes: powers of two up to the largest group (`MAX_GROUP`, 128).
const GROUP_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// Commit latencies in seconds, from 50 µs (a `normal` commit) to 1 s (a stalled disk).
const COMMIT_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.25, 1.0,
];

/// The SQLite writer's histograms, observed by the writer thread after every group (a clone
/// shares them).
#[derive(Debug, Clone)]
pub struct WriterMetrics {
    /// Jobs per group transaction.
    pub group_size: Histogram,
    /// Seconds from `BEGIN` to the end of `COMMIT` of a group.
    pub commit_seconds: Histogram,
}

impl WriterMetrics {
    pub(crate) fn new() -> Self {
        Self {
            group_size: Histogram::new(GROUP_BUCKETS),
            commit_seconds: Histogram::new(COMMIT_BUCKETS),
        }
    }
}

/// A point-in-time view of the store's load.
#[derive(Debug, Clone)]
pub enum StoreStats {
    Sqlite {
        /// Write jobs waiting for the writer thread.
        writer_queue: usize,
        /// Read jobs waiting for a reader thread.
        reader_queue: usize,
        writer: WriterMetrics,
    },
    Postgres {
        /// Connections open now.
        size: usize,
        /// Open connections idle in the pool.
        available: usize,
        /// Requests waiting for a connection.
        waiting: usize,
        /// The most connections the pool opens.
        max_size: usize,
    },
}
