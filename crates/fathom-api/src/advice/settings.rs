//! The thresholds of client advice (`[architect.clients]` in the configuration), with the
//! defaults the issue names.

use std::time::Duration;

/// How the per-node recorder of request patterns is bounded and when a pattern is flagged.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientAdviceSettings {
    /// Whether reads are recorded at all; off, `GET /api/v1/admin/advice` has no client findings.
    pub enabled: bool,
    /// The most callers remembered at once; the least recently seen is forgotten first.
    pub max_callers: usize,
    /// The most recent reads remembered per caller.
    pub window: usize,
    /// Gets by id on one collection after a list that make an N+1 burst.
    pub n_plus_one_gets: usize,
    /// How soon after the list those gets must come.
    pub n_plus_one_window: Duration,
    /// The smallest `offset` flagged as large (a cursor reads no skipped rows).
    pub large_offset: u64,
    /// Consecutive pages with `count=true` that are flagged (on a large collection).
    pub count_pages: u32,
    /// Consecutive unfiltered pages of one collection that make an unbounded scan (when they
    /// read a large collection).
    pub scan_pages: u32,
    /// How many records make a collection large (the total `count=true` answered, or the
    /// records a paging caller has read).
    pub large_collection: u64,
}

impl Default for ClientAdviceSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_callers: 4096,
            window: 32,
            n_plus_one_gets: 10,
            n_plus_one_window: Duration::from_secs(1),
            large_offset: 1000,
            count_pages: 3,
            scan_pages: 10,
            large_collection: 1000,
        }
    }
}
