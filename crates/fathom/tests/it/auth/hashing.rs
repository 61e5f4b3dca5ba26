//! Bounded hashing: a flood of logins queues on the hashing pool (one Argon2id per CPU at a time)
//! instead of starving the async runtime, so `/health` keeps answering promptly throughout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::{WRONG_PASSWORD, login_response, percentile, spawn_auth_app};

const LOGINS: usize = 60;
const HEALTH_P95_LIMIT_MS: f64 = 250.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_does_not_starve_health_checks() {
    let app = Arc::new(
        spawn_auth_app(|c| {
            c.auth.trusted_proxies = vec!["127.0.0.1".into()];
            c.auth.rate_limit_per_minute = 10_000;
            c.auth.hash_concurrency = 0; // one per CPU
        })
        .await,
    );
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert_eq!(app.auth.hasher.pool_stats().max_concurrent, cpus);

    // Baseline: /health on an idle server.
    let mut idle = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        assert_eq!(app.get("/health").await.status(), 200);
        idle.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    let flood_started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for n in 0..LOGINS {
        let app = Arc::clone(&app);
        logins.spawn(async move {
            let email = format!("flood-{n}@example.com");
            let client = format!("10.{}.{}.{}", n / 65_536, (n / 256) % 256, n % 256 + 1);
            let response = login_response(&app, &email, WRONG_PASSWORD, Some(&client)).await;
            response.status().as_u16()
        });
    }

    // Probe /health while the flood is queued, until every login has been answered.
    let mut busy = Vec::new();
    let mut statuses = Vec::new();
    loop {
        let started = Instant::now();
        let response = app.get("/health").await;
        busy.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(response.status(), 200);
        while let Some(joined) = logins.try_join_next() {
            statuses.push(joined.unwrap());
        }
        if logins.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flood = flood_started.elapsed();
    let stats = app.auth.hasher.pool_stats();
    let (p50, p95, max) = (
        percentile(&busy, 50.0),
        percentile(&busy, 95.0),
        percentile(&busy, 100.0),
    );
    eprintln!(
        "{LOGINS} logins in {:.2} s on {cpus} CPUs (pool peak {}); /health idle p50 {:.1} ms; \
         under load: {} probes, p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms",
        flood.as_secs_f64(),
        stats.peak_running,
        percentile(&idle, 50.0),
        busy.len(),
    );

    assert_eq!(statuses.len(), LOGINS);
    assert!(
        statuses.iter().all(|s| *s == 401),
        "every login is refused (no 429, no 503 timeout): {statuses:?}"
    );
    assert!(
        stats.peak_running <= cpus,
        "the pool ran {} hashes at once with {cpus} permits",
        stats.peak_running
    );
    assert!(
        busy.len() >= 10,
        "too few probes ({}) to judge; the flood took {:.2} s",
        busy.len(),
        flood.as_secs_f64()
    );
    assert!(
        p95 < HEALTH_P95_LIMIT_MS,
        "/health p95 {p95:.1} ms under a login flood (limit {HEALTH_P95_LIMIT_MS} ms; p50 {p50:.1} ms, max {max:.1} ms, {} probes)",
        busy.len()
    );
}
