//! Progressive delay on failed logins, per submitted email address. It is keyed by the address
//! as typed, not by account, so known and unknown addresses slow down exactly alike and the
//! delay reveals nothing about which accounts exist. Memory is bounded; the state is per node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures forgiven before delays start.
const FREE_FAILURES: u32 = 3;
/// The first delay, doubled with every further failure.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(4);
/// A quiet address is forgotten after this long.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The most addresses remembered at once; the stalest are dropped first.
const CAPACITY: usize = 10_000;

/// Failure counts by address.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Records a failure for `email` and returns how long to wait before answering.
    pub fn failed(&self, email: &str) -> Duration {
        let Ok(mut failures) = self.failures.lock() else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        if failures.len() >= CAPACITY {
            failures.retain(|_, (_, last)| now.duration_since(*last) < WINDOW);
            if failures.len() >= CAPACITY
                && let Some(stalest) = failures
                    .iter()
                    .min_by_key(|(_, (_, last))| *last)
                    .map(|(k, _)| k.clone())
            {
                failures.remove(&stalest);
            }
        }
        let entry = failures.entry(email.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.1 = now;
        delay_after(entry.0)
    }

    /// Forgets `email` after a successful login.
    pub fn succeeded(&self, email: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(email);
        }
    }
}

/// The delay after `failures` consecutive failures.
fn delay_after(failures: u32) -> Duration {
    let Some(extra) = failures.checked_sub(FREE_FAILURES + 1) else {
        return Duration::ZERO;
    };
    BASE_DELAY
        .saturating_mul(1u32 << extra.min(8))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_double_and_cap() {
        let delays: Vec<u128> = (1..=9).map(|n| delay_after(n).as_millis()).collect();
        assert_eq!(delays, vec![0, 0, 0, 250, 500, 1000, 2000, 4000, 4000]);
    }

    #[test]
    fn known_and_unknown_addresses_are_counted_alike_and_success_forgets() {
        let throttle = LoginThrottle::default();
        for _ in 0..3 {
            assert_eq!(throttle.failed("a@example.com"), Duration::ZERO);
        }
        assert_eq!(throttle.failed("a@example.com"), BASE_DELAY);
        assert_eq!(
            throttle.failed("b@example.com"),
            Duration::ZERO,
            "counted per address"
        );
        throttle.succeeded("a@example.com");
        assert_eq!(throttle.failed("a@example.com"), Duration::ZERO);
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = LoginThrottle::default();
        for n in 0..CAPACITY + 50 {
            throttle.failed(&format!("user{n}@example.com"));
        }
        assert!(throttle.failures.lock().map(|f| f.len()).unwrap_or(0) <= CAPACITY);
    }
}
