//! What one rate-limit check costs, on the node and through Redis: the per-request overhead
//! the limiter adds to every `/api/v1` request.
//!
//! `cargo run --release -p fathom-limits --features redis --example overhead -- redis://127.0.0.1:PORT`
//! (scripts/redis.sh starts a throwaway Redis). Prints p50/p99 of a check from one caller, and
//! the throughput of 32 concurrent callers, each on distinct clients under one policy.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use fathom_limits::{Limiter, Quota};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn sequential(limiter: &Limiter, n: usize) -> (Duration, Duration) {
    let quota = Quota::per_minute(1_000_000);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let subject = format!("198.51.100.{}", i % 250);
        let started = Instant::now();
        let outcome = limiter.check("bench.read", &subject, &quota).await;
        samples.push(started.elapsed());
        assert!(outcome.allowed);
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

async fn concurrent(limiter: &Limiter, tasks: usize, per_task: usize) -> f64 {
    let quota = Quota::per_minute(1_000_000);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let subject = format!("user-{t}-{}", i % 50);
                    limiter.check("bench.write", &subject, &quota).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    #[allow(clippy::cast_precision_loss)]
    let checks = (tasks * per_task) as f64;
    checks / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1);
    let mut rows = vec![("node (LocalTable)", Limiter::local())];
    #[cfg(feature = "redis")]
    if let Some(url) = &url {
        let prefix = format!("bench-{}", std::process::id());
        rows.push((
            "redis (one Lua script)",
            Limiter::shared(url, &prefix).unwrap(),
        ));
    }
    #[cfg(not(feature = "redis"))]
    let _ = url;
    println!("| where | 1 caller p50 | 1 caller p99 | 32 callers, checks/s | Redis outages |");
    println!("|---|---:|---:|---:|---:|");
    for (name, limiter) in rows {
        // Warm up (the Redis connection, the script's load).
        sequential(&limiter, 200).await;
        let (p50, p99) = sequential(&limiter, 20_000).await;
        let rate = concurrent(&limiter, 32, 2_000).await;
        // An outage (a check over 250 ms on a loaded machine) moves the rest of the run to the
        // node's table: such a run's Redis figures are not Redis's alone.
        let outages = limiter.outages();
        println!("| {name} | {p50:.1?} | {p99:.1?} | {rate:.0} | {outages} |");
    }
}
