//! The generic cell rate algorithm: the one piece of arithmetic behind every limit, run here for
//! per-node limits and, written again in Lua (`shared.rs`), inside Redis for shared ones. Its
//! state per client is one number, the theoretical arrival time (TAT): when the client's bucket
//! would be full again. A request is allowed when taking one more request's time keeps the TAT
//! within one window of now.

use std::time::Duration;

use crate::Quota;

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// Requests left right after this one (the `r` of `RateLimit`).
    pub remaining: u32,
    /// How long until the whole quota is available again (the `t` of `RateLimit`).
    pub reset: Duration,
    /// For a refused request, how long until one request is allowed (`Retry-After`).
    pub retry_after: Duration,
}

impl Outcome {
    /// Builds the outcome from the four integers the Lua script returns (microseconds).
    pub fn from_parts(allowed: bool, remaining: u64, reset_us: u64, retry_us: u64) -> Self {
        Self {
            allowed,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            reset: Duration::from_micros(reset_us),
            retry_after: Duration::from_micros(retry_us),
        }
    }
}

/// Decides one request at `now` (microseconds) against `quota`, given the client's stored TAT.
/// Returns the outcome and, when allowed, the TAT to store (kept for `reset`, then forgotten).
pub fn decide(tat: Option<u64>, now: u64, quota: &Quota) -> (Outcome, Option<u64>) {
    let period = quota.period_micros();
    let window = quota.window_micros();
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(period);
    let used = new_tat - now;
    if used > window {
        let outcome = Outcome::from_parts(false, 0, tat - now, used - window);
        return (outcome, None);
    }
    let remaining = (window - used) / period;
    (Outcome::from_parts(true, remaining, used, 0), Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_the_quota_at_once_then_one_per_period() {
        let quota = Quota::new(3, Duration::from_secs(3));
        let mut tat = None;
        let mut now = 5_000_000;
        for left in [2, 1, 0] {
            let (outcome, next) = decide(tat, now, &quota);
            assert!(outcome.allowed);
            assert_eq!(outcome.remaining, left);
            tat = next;
        }
        let (refused, none) = decide(tat, now, &quota);
        assert!(!refused.allowed && none.is_none());
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(refused.reset, Duration::from_secs(3));
        now += 1_000_000;
        let (outcome, _) = decide(tat, now, &quota);
        assert!(outcome.allowed, "one request refills per period");
        assert_eq!(outcome.remaining, 0);
        let (outcome, _) = decide(tat, now + 10_000_000, &quota);
        assert_eq!(
            outcome.remaining, 2,
            "a quiet client has its whole quota back"
        );
    }
}
