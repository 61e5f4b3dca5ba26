//! A fixed log-bucket latency histogram: four buckets per power of two of microseconds (about
//! 19 % wide each), from under 1 µs to 2^26 µs (67 s; slower calls count in the last bucket).
//! Fixed buckets make two histograms (two nodes', or a node's and the persisted one) merge by
//! adding counts, so percentiles can be recomputed from the merged figures.

use serde::{Deserialize, Serialize};

/// Powers of two covered.
const OCTAVES: usize = 26;
/// Buckets per power of two.
const SUB: usize = 4;
/// Bucket 0 holds calls under 1 µs.
pub(crate) const BUCKETS: usize = 1 + OCTAVES * SUB;

/// Call counts per latency bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Histogram(Vec<u64>);

impl Default for Histogram {
    fn default() -> Self {
        Self(vec![0; BUCKETS])
    }
}

/// The bucket a latency falls in.
fn bucket(micros: u64) -> usize {
    if micros == 0 {
        return 0;
    }
    let octave = 63 - micros.leading_zeros() as usize;
    if octave >= OCTAVES {
        return BUCKETS - 1;
    }
    // The two bits after the leading one pick the quarter of the octave.
    let sub = if octave >= 2 {
        (micros >> (octave - 2)) & 3
    } else {
        (micros << (2 - octave)) & 3
    };
    1 + octave * SUB + usize::try_from(sub).unwrap_or(0)
}

/// The highest latency a bucket holds (its upper bound, exclusive, less one).
fn upper(bucket: usize) -> u64 {
    if bucket == 0 {
        return 0;
    }
    let octave = (bucket - 1) / SUB;
    let sub = ((bucket - 1) % SUB) as u64;
    let lower = ((4 + sub) << octave) >> 2;
    let next = ((5 + sub) << octave) >> 2;
    next.saturating_sub(1).max(lower)
}

impl Histogram {
    pub(crate) fn record(&mut self, micros: u64) {
        if self.0.len() != BUCKETS {
            self.0.resize(BUCKETS, 0);
        }
        self.0[bucket(micros)] += 1;
    }

    /// Adds another histogram's counts (one persisted by an older build with another bucket
    /// count is read as far as both go).
    pub(crate) fn merge(&mut self, other: &Histogram) {
        if self.0.len() != BUCKETS {
            self.0.resize(BUCKETS, 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The latency (µs) under which `quantile` (0 to 1) of the calls fell, bounded by the
    /// slowest call seen; 0 when there were none.
    pub(crate) fn percentile(&self, quantile: f64, max_micros: u64) -> u64 {
        let total: u64 = self.0.iter().sum();
        if total == 0 {
            return 0;
        }
        // The rank of the call that answers: ceil(q·n), at least the first.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((quantile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (n, count) in self.0.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper(n).min(max_micros);
            }
        }
        max_micros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_monotonically_and_hold_their_values() {
        let mut last = 0;
        for micros in [
            0,
            1,
            2,
            3,
            4,
            5,
            7,
            8,
            100,
            1_000,
            65_535,
            1 << 25,
            u64::MAX,
        ] {
            let b = bucket(micros);
            assert!(b >= last, "{micros}");
            assert!(b < BUCKETS);
            last = b;
            if micros < 1 << 26 {
                assert!(
                    upper(b) >= micros,
                    "{micros} above its bucket's bound {}",
                    upper(b)
                );
                // About 25 % wide at most.
                assert!(
                    upper(b) <= micros + micros / 4 + 1,
                    "{micros}: {}",
                    upper(b)
                );
            }
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = Histogram::default();
        for micros in 1..=100 {
            h.record(micros * 10);
        }
        let p50 = h.percentile(0.5, 1_000);
        let p99 = h.percentile(0.99, 1_000);
        assert!((500..=625).contains(&p50), "{p50}");
        assert!((990..=1_000).contains(&p99), "{p99}");
        let mut other = Histogram::default();
        for _ in 0..100 {
            other.record(5);
        }
        h.merge(&other);
        assert!(h.percentile(0.5, 1_000) <= 5);
        assert_eq!(Histogram::default().percentile(0.5, 0), 0);
    }
}
