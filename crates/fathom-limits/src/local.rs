//! [`LocalTable`]: the TATs of this node's clients, in memory. Sharded so that concurrent
//! requests rarely wait on one lock, and bounded: a shard past its share of [`CAPACITY`] first
//! forgets the clients whose buckets are full again (a forgotten client is one with a full
//! bucket, so nothing changes for them), then, if still full, its oldest entry.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

use crate::Quota;
use crate::gcra::{Outcome, decide};

/// The most clients remembered per node, across all policies.
pub const CAPACITY: usize = 200_000;
const SHARDS: usize = 16;

pub struct LocalTable {
    started: Instant,
    hasher: RandomState,
    shards: [Mutex<HashMap<Box<str>, u64>>; SHARDS],
}

impl Default for LocalTable {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl LocalTable {
    /// Microseconds since this table was made (a monotonic clock).
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Counts one request under `key` against `quota`.
    pub fn check(&self, key: &str, quota: &Quota) -> Outcome {
        let now = self.now();
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let Ok(mut table) = shard.lock() else {
            // A poisoned lock means a panic elsewhere; letting requests through beats refusing
            // every one of them.
            return decide(None, now, quota).0;
        };
        let (outcome, tat) = decide(table.get(key).copied(), now, quota);
        if let Some(tat) = tat {
            if !table.contains_key(key) && table.len() >= CAPACITY / SHARDS {
                table.retain(|_, t| *t > now);
                if table.len() >= CAPACITY / SHARDS
                    && let Some(oldest) = table
                        .iter()
                        .min_by_key(|(_, t)| **t)
                        .map(|(k, _)| k.clone())
                {
                    table.remove(&oldest);
                }
            }
            table.insert(key.into(), tat);
        }
        outcome
    }

    /// Clients remembered now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|t| t.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clients_are_counted_apart_and_memory_stays_bounded() {
        let table = LocalTable::default();
        let quota = Quota::new(2, Duration::from_secs(3600));
        assert!(table.check("p:a", &quota).allowed);
        assert!(table.check("p:a", &quota).allowed);
        assert!(!table.check("p:a", &quota).allowed);
        assert!(table.check("p:b", &quota).allowed);
        for n in 0..CAPACITY + 100 {
            table.check(&format!("p:{n}"), &quota);
        }
        assert!(table.len() <= CAPACITY);
    }
}
