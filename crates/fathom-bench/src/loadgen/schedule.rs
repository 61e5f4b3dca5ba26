//! The open-loop schedule and the coordinated-omission correction, as pure functions.
//!
//! An open-loop generator sends request `i` at its intended time `i / rate`, whatever happened
//! to earlier requests. When the server stalls, requests queue in the generator (or wait for a
//! free in-flight slot) and go out late; measuring from the actual send time would hide that
//! wait ("coordinated omission"). Latency is therefore measured from the intended send time.

use std::time::Duration;

/// The intended send time of request `index`, as an offset from the start of the run.
pub fn intended_offset(index: u64, rate_per_sec: f64) -> Duration {
    if rate_per_sec <= 0.0 {
        return Duration::MAX;
    }
    Duration::from_secs_f64(index as f64 / rate_per_sec)
}

/// How many requests an open-loop run sends: every intended time before `duration`, at most
/// `max_requests`.
pub fn planned_requests(rate_per_sec: f64, duration: Duration, max_requests: u64) -> u64 {
    if rate_per_sec <= 0.0 {
        return 0;
    }
    let fitting = (duration.as_secs_f64() * rate_per_sec).ceil() as u64;
    fitting.min(max_requests)
}

/// The latency a request is charged: from its intended send time to its completion, both as
/// offsets from the start of the run. A request that completes "before" its intended time
/// (impossible, except for clock granularity) is charged zero.
pub fn corrected_latency(intended: Duration, completed: Duration) -> Duration {
    completed.saturating_sub(intended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_spaces_requests_evenly() {
        assert_eq!(intended_offset(0, 100.0), Duration::ZERO);
        assert_eq!(intended_offset(1, 100.0), Duration::from_millis(10));
        assert_eq!(intended_offset(250, 100.0), Duration::from_millis(2500));
        assert_eq!(intended_offset(3, 0.0), Duration::MAX);
    }

    #[test]
    fn planned_requests_fit_the_duration_and_the_cap() {
        assert_eq!(
            planned_requests(100.0, Duration::from_secs(2), u64::MAX),
            200
        );
        assert_eq!(planned_requests(100.0, Duration::from_secs(2), 50), 50);
        assert_eq!(planned_requests(0.0, Duration::from_secs(2), 50), 0);
        // Every intended time strictly before the end: 0 ms, 400 ms, 800 ms.
        assert_eq!(planned_requests(2.5, Duration::from_secs(1), u64::MAX), 3);
    }

    /// A server that answers in 1 ms but stalls for one second at t = 1 s, driven at 100
    /// requests a second with one request in flight at a time (the worst case for coordinated
    /// omission). Measured from the actual send, only one request looks slow; measured from the
    /// intended send, the hundred requests that should have gone out during the stall are all
    /// charged their wait, as a user arriving at those times would have seen it.
    #[test]
    fn correction_charges_the_requests_queued_behind_a_stall() {
        let rate = 100.0;
        let service = Duration::from_millis(1);
        let stall_at = Duration::from_secs(1);
        let stall = Duration::from_secs(1);
        let mut free_at = Duration::ZERO;
        let (mut naive, mut corrected) = (Vec::new(), Vec::new());
        for index in 0..planned_requests(rate, Duration::from_secs(3), u64::MAX) {
            let intended = intended_offset(index, rate);
            let sent = intended.max(free_at);
            let mut done = sent + service;
            if sent <= stall_at && stall_at < done {
                done += stall;
            }
            free_at = done;
            naive.push(done - sent);
            corrected.push(corrected_latency(intended, done));
        }
        let slow = |v: &[Duration]| v.iter().filter(|l| **l > Duration::from_millis(10)).count();
        assert_eq!(slow(&naive), 1);
        assert!(slow(&corrected) >= 99, "{}", slow(&corrected));
        assert!(corrected.iter().max() >= naive.iter().max());
        assert_eq!(
            corrected_latency(Duration::from_secs(2), Duration::from_secs(1)),
            Duration::ZERO
        );
    }
}
