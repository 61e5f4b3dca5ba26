//! The benchmark's records: a deterministic generator, so every run (and both servers) sees
//! the same distribution of statuses, teams, priorities and owners.

use serde::{Deserialize, Serialize};

/// The `status` enum of the bench schema.
pub const STATUSES: [&str; 5] = ["open", "triaged", "in_progress", "blocked", "done"];
/// How many distinct `team` values the generator uses.
pub const TEAMS: u64 = 50;
/// Priorities run from 0 to 9.
pub const PRIORITIES: u64 = 10;

/// The writable fields of one item, as both servers take them in a create body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    pub title: String,
    pub status: String,
    pub team: String,
    pub priority: i64,
    pub owner: String,
}

/// A small deterministic generator (Knuth's MMIX linear congruential constants).
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A value in `0..bound` (`bound` must be positive).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// A stateless mix of a request's sequence number (SplitMix64's finaliser), so concurrent
/// workers can pick "random" ids and filter values without sharing a generator.
pub fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `n`th item, owned by one of `owners` (round robin, so each owns an equal share).
pub fn item(n: u64, rng: &mut Lcg, owners: &[String]) -> NewItem {
    let owner = owners
        .get((n % owners.len().max(1) as u64) as usize)
        .cloned()
        .unwrap_or_default();
    NewItem {
        title: format!("item {n}"),
        status: STATUSES[rng.below(STATUSES.len() as u64) as usize].to_owned(),
        team: format!("team-{}", rng.below(TEAMS)),
        priority: rng.below(PRIORITIES) as i64,
        owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_deterministic_and_owners_share_evenly() {
        let owners: Vec<String> = (0..4).map(|n| format!("user-{n}")).collect();
        let (mut a, mut b) = (Lcg::new(7), Lcg::new(7));
        let first: Vec<NewItem> = (0..100).map(|n| item(n, &mut a, &owners)).collect();
        let second: Vec<NewItem> = (0..100).map(|n| item(n, &mut b, &owners)).collect();
        assert_eq!(first, second);
        for owner in &owners {
            assert_eq!(first.iter().filter(|i| &i.owner == owner).count(), 25);
        }
        assert!(first.iter().all(|i| (0..10).contains(&i.priority)));
        assert!(first.iter().all(|i| STATUSES.contains(&i.status.as_str())));
    }

    #[test]
    fn mix_spreads_consecutive_numbers() {
        let buckets = (0..1000u64).fold([0u32; 10], |mut acc, n| {
            acc[(mix(n) % 10) as usize] += 1;
            acc
        });
        assert!(
            buckets.iter().all(|&b| (60..=140).contains(&b)),
            "{buckets:?}"
        );
    }
}
