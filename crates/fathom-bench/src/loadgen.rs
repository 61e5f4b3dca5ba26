//! The load generator: runs one operation many times, closed loop (a fixed number of workers,
//! each sending its next request when the previous one answers) or open loop (requests sent at
//! a target rate whatever the answers), always bounded in time and in count. Latencies of
//! successful requests go into an HDR histogram in microseconds; failures are counted.

pub mod schedule;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The highest latency a histogram tracks (one minute); longer ones are clamped to it.
const MAX_TRACKABLE_MICROS: u64 = 60_000_000;

/// How the requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// `concurrency` workers, each waiting for its answer before sending again.
    Closed { concurrency: usize },
    /// Requests sent at `rate_per_sec`, at most `max_in_flight` outstanding; latency is
    /// measured from each request's intended send time (see [`schedule`]).
    Open {
        rate_per_sec: f64,
        max_in_flight: usize,
    },
}

impl Load {
    /// A short description for tables ("closed, 32 workers" / "open, 2000/s").
    pub fn describe(&self) -> String {
        match self {
            Load::Closed { concurrency: 1 } => "closed, 1 worker".to_owned(),
            Load::Closed { concurrency } => format!("closed, {concurrency} workers"),
            Load::Open { rate_per_sec, .. } => format!("open, {rate_per_sec:.0}/s"),
        }
    }
}

/// The bounds of one run: it stops at whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub duration: Duration,
    pub max_requests: u64,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Latencies of successful requests, in microseconds.
    pub latencies: Histogram<u64>,
    pub errors: u64,
    /// Wall time from the first send to the last answer.
    pub elapsed: Duration,
    /// The first failure, to show what went wrong.
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn empty() -> Self {
        Self {
            latencies: new_histogram(),
            errors: 0,
            elapsed: Duration::ZERO,
            first_error: None,
        }
    }

    /// Successful requests.
    pub fn ok(&self) -> u64 {
        self.latencies.len()
    }

    fn record(&mut self, result: Result<(), String>, latency: Duration) {
        match result {
            Ok(()) => {
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latencies.saturating_record(micros.max(1));
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    /// Adds a later, separate run of the same measurement: its requests, errors and time.
    pub fn append(&mut self, later: Outcome) {
        self.elapsed += later.elapsed;
        self.merge(later);
    }

    /// Adds a concurrent worker's outcome (its time overlaps ours, so it is not added).
    fn merge(&mut self, other: Outcome) {
        // Both histograms have the same bounds, so adding cannot fail; clamp if it ever did.
        if self.latencies.add(&other.latencies).is_err() {
            for value in other.latencies.iter_recorded() {
                self.latencies
                    .saturating_record_n(value.value_iterated_to(), value.count_at_value());
            }
        }
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A histogram from 1 µs to one minute with three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_MICROS, 3)
        .expect("the bounds 1 µs..60 s with 3 significant digits are valid")
}

/// Runs `op(sequence_number)` under `load` within `bounds`. `op` answers `Err(description)` for
/// a failed request (transport error or unexpected status).
pub async fn run<F, Fut>(load: Load, bounds: Bounds, op: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    match load {
        Load::Closed { concurrency } => closed_loop(concurrency.max(1), bounds, op).await,
        Load::Open {
            rate_per_sec,
            max_in_flight,
        } => open_loop(rate_per_sec, max_in_flight.max(1), bounds, op).await,
    }
}

async fn closed_loop<F, Fut>(concurrency: usize, bounds: Bounds, op: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, next) = (op.clone(), next.clone());
            tokio::spawn(async move {
                let mut outcome = Outcome::empty();
                loop {
                    let sequence = next.fetch_add(1, Ordering::Relaxed);
                    if sequence >= bounds.max_requests || Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let result = op(sequence).await;
                    outcome.record(result, sent.elapsed());
                }
                outcome
            })
        })
        .collect();
    let mut total = Outcome::empty();
    for worker in workers {
        match worker.await {
            Ok(outcome) => total.merge(outcome),
            Err(panic) => {
                total.errors += 1;
                total
                    .first_error
                    .get_or_insert(format!("a worker panicked: {panic}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

async fn open_loop<F, Fut>(rate: f64, max_in_flight: usize, bounds: Bounds, op: F) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let shared = Arc::new(Mutex::new(Outcome::empty()));
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let planned = schedule::planned_requests(rate, bounds.duration, bounds.max_requests);
    let started = Instant::now();
    for index in 0..planned {
        let intended = schedule::intended_offset(index, rate);
        tokio::time::sleep_until(started + intended).await;
        // When every slot is taken the send goes out late; its latency still counts from
        // `intended`, so the wait is charged to the server, not hidden.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (op, shared) = (op.clone(), shared.clone());
        tokio::spawn(async move {
            let result = op(index).await;
            let latency = schedule::corrected_latency(intended, started.elapsed());
            shared
                .lock()
                .expect("no thread panics while holding the outcome lock")
                .record(result, latency);
            drop(permit);
        });
    }
    // Wait for the requests still in flight: all slots free means all answered.
    let all = u32::try_from(max_in_flight).unwrap_or(u32::MAX);
    let _drained = slots.acquire_many(all).await;
    let mut outcome = shared
        .lock()
        .expect("no thread panics while holding the outcome lock")
        .clone();
    outcome.elapsed = started.elapsed();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closed_loop_stops_at_the_count_and_counts_errors() {
        let bounds = Bounds {
            duration: Duration::from_secs(10),
            max_requests: 100,
        };
        let outcome = run(Load::Closed { concurrency: 4 }, bounds, |n| async move {
            if n % 10 == 0 {
                Err(format!("request {n} failed"))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(outcome.ok() + outcome.errors, 100);
        assert_eq!(outcome.errors, 10);
        assert!(outcome.first_error.is_some());
    }

    #[tokio::test]
    async fn closed_loop_stops_at_the_deadline() {
        let bounds = Bounds {
            duration: Duration::from_millis(100),
            max_requests: u64::MAX,
        };
        let outcome = run(Load::Closed { concurrency: 2 }, bounds, |_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        })
        .await;
        assert!((10..=30).contains(&outcome.ok()), "{}", outcome.ok());
        assert!(outcome.latencies.value_at_quantile(0.5) >= 10_000);
    }

    #[tokio::test]
    async fn open_loop_sends_the_planned_requests() {
        let bounds = Bounds {
            duration: Duration::from_millis(200),
            max_requests: u64::MAX,
        };
        let load = Load::Open {
            rate_per_sec: 100.0,
            max_in_flight: 8,
        };
        let outcome = run(load, bounds, |_| async { Ok(()) }).await;
        assert_eq!(outcome.ok(), 20);
        assert!(outcome.elapsed >= Duration::from_millis(190));
    }

    /// With one slot and a slow server, later requests wait for the slot; their latency counts
    /// from the intended send time, so it grows along the queue.
    #[tokio::test]
    async fn open_loop_charges_waiting_for_a_slot() {
        let bounds = Bounds {
            duration: Duration::from_millis(50),
            max_requests: u64::MAX,
        };
        let load = Load::Open {
            rate_per_sec: 200.0,
            max_in_flight: 1,
        };
        let outcome = run(load, bounds, |_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(())
        })
        .await;
        assert_eq!(outcome.ok(), 10);
        // The tenth request was due at 45 ms and answered at about 200 ms.
        assert!(
            outcome.latencies.max() >= 150_000,
            "{}",
            outcome.latencies.max()
        );
    }
}
