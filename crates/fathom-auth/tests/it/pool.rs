//! The bounded hashing pool: at most `max_concurrent` Argon2 runs at once, whatever the load.

use std::time::Duration;

use fathom_auth::{PasswordHasher, PasswordParams};
use tokio::task::JoinSet;

/// Waits until `condition` holds, polling every millisecond, for at most ten seconds.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_hashes_never_run_more_than_two_at_once() {
    let hasher = PasswordHasher::new(PasswordParams::default(), 2).unwrap();
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let hasher = hasher.clone();
        tasks.spawn(async move { hasher.hash(&format!("password number {i}")).await });
    }
    // Sample while the flood drains, too: the peak counter is the real check, this only shows
    // the bound holds at every moment we look.
    let sampler = {
        let hasher = hasher.clone();
        tokio::spawn(async move {
            let mut max_seen = 0;
            loop {
                let stats = hasher.pool_stats();
                max_seen = max_seen.max(stats.running);
                if stats.peak_running > 0 && stats.running == 0 {
                    break max_seen;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let mut hashes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        hashes.push(joined.unwrap().unwrap());
    }
    let stats = hasher.pool_stats();
    assert_eq!(hashes.len(), 20);
    assert_eq!(stats.max_concurrent, 2);
    assert_eq!(stats.running, 0);
    // The blocking pool has hundreds of threads: without the semaphore all twenty would start
    // at once and the peak would be far above 2. With it, two did overlap and never more.
    assert_eq!(stats.peak_running, 2, "{stats:?}");
    let max_seen = sampler.await.unwrap();
    assert!(max_seen <= 2, "sampled {max_seen} running at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_caller_keeps_its_slot_until_its_hash_ends() {
    let hasher = PasswordHasher::new(PasswordParams::default(), 1).unwrap();
    let first = {
        let hasher = hasher.clone();
        tokio::spawn(async move { hasher.hash("the first password").await })
    };
    wait_until("the first hash to start", || {
        hasher.pool_stats().running == 1
    })
    .await;
    // The caller gives up; its Argon2 run cannot be stopped and keeps running.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    // If the abort had released the permit, this hash would overlap the first one.
    let second = hasher.hash("the second password").await;
    assert!(second.is_ok());
    assert_eq!(hasher.pool_stats().peak_running, 1);
}

#[tokio::test]
async fn verify_and_dummy_share_the_same_bound() {
    let hasher = PasswordHasher::new(PasswordParams::default(), 1).unwrap();
    let phc = hasher.hash("shared bound password").await.unwrap();
    let mut tasks = JoinSet::new();
    for _ in 0..3 {
        let verifier = hasher.clone();
        let phc = phc.clone();
        tasks.spawn(async move {
            let outcome = verifier.verify("shared bound password", &phc).await;
            assert!(outcome.unwrap().matches);
        });
        let dummy = hasher.clone();
        tasks.spawn(async move { dummy.verify_dummy("anything").await });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    assert_eq!(hasher.pool_stats().peak_running, 1);
}

#[test]
fn default_concurrency_is_the_cpu_count() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(PasswordHasher::default_concurrency(), cpus);
}
