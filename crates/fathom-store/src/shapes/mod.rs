//! Query shapes (the architect, issue 17): what a read looked like with its values taken out,
//! so that reads differing only in values count as one. The store records one per `get`,
//! `list` and `count` it runs (`book.rs`); the index advisor (`fathom-architect`) turns the
//! frequent or slow ones back into runnable queries to read their plans.

mod book;
mod figures;
mod handle;
mod histogram;
pub(crate) mod persist;

pub(crate) use book::Probe;
pub use book::{DEFAULT_MAX_SHAPES, ShapeBook};
pub(crate) use figures::{Sample, Scan};

use serde::{Deserialize, Serialize};

/// The kind of read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    Get,
    List,
    Count,
}

/// One condition of a filter, without its value: `path` (a field, or a relation path such as
/// `project.owner`) and the operator (`=`, `!=`, `<`, `<=`, `>`, `>=`, `~`, `!~`, `in`,
/// `not in`, `is null`, `is not null`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Condition {
    pub path: String,
    pub op: String,
}

/// One sort key: a field path and its direction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SortShape {
    pub path: String,
    pub descending: bool,
}

/// A read with its values removed. Two reads with equal shapes are served by the same
/// indexes. `filter` is the whole condition the store ran (the caller's filter and the access
/// rule's predicate, which an index can serve as well), as a canonical text with every literal
/// replaced by `?` (`status = ? && (owner = ? || public = ?)`), with its conditions listed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueryShape {
    pub collection: String,
    pub kind: ShapeKind,
    /// The canonical filter text with `?` for values; empty when there is none.
    pub filter: String,
    /// The filter's conditions, in the order they appear, each once.
    pub conditions: Vec<Condition>,
    /// Whether the filter is a conjunction only (no `||` and no `!`): only then can the
    /// equality conditions lead an index.
    pub conjunctive: bool,
    /// The sort keys (lists); always ends with `id` when present.
    pub sort: Vec<SortShape>,
    /// Relation paths expanded in the answer.
    pub expand: Vec<String>,
    /// Page size, rounded up to a power of two (lists).
    pub page_size: Option<u32>,
    /// Whether an offset was given (lists): a deep offset reads and discards rows.
    pub offset: bool,
    /// Whether a keyset cursor was given (lists).
    pub cursor: bool,
    /// Whether the read was confined to one tenant.
    pub tenant_scoped: bool,
}

/// What the store measured of one shape since it was first recorded (on this node, or summed
/// over the nodes that persisted theirs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShapeStats {
    pub calls: u64,
    pub total_micros: u64,
    pub max_micros: u64,
    /// Latency percentiles in microseconds, from the shape's histogram.
    pub p50_micros: u64,
    pub p95_micros: u64,
    pub p99_micros: u64,
    /// Rows (or, for a count, the counts) answered, summed over the calls.
    pub rows_returned: u64,
    /// SQLite: rows stepped through by full scans (`SQLITE_STMTSTATUS_FULLSCAN_STEP`), summed;
    /// `None` on PostgreSQL, where the advisor asks the planner instead.
    pub rows_visited: Option<u64>,
    /// SQLite: sorts the statements ran (`SQLITE_STMTSTATUS_SORT`), summed.
    pub sorts: Option<u64>,
    /// When it was last run, in milliseconds since the epoch.
    pub last_seen_ms: i64,
}

/// A shape with its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeReport {
    pub shape: QueryShape,
    pub stats: ShapeStats,
}
