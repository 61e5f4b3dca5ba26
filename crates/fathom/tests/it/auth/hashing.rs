//! Bounded hashing: a flood of logins queues on the hashing pool (one Argon2id per CPU at a time)
//! instead of starving the async runtime, so `/health` keeps answering promptly throughout; and
//! each client address has a share of that queue, beyond which it is answered 429 at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::{
    PASSWORD, WRONG_PASSWORD, header, login_response, percentile, register, spawn_auth_app,
};
use crate::helpers::json_with_status;

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

/// One address sending many logins at once gets its share of the hashing queue (two by default)
/// and a 429 with `Retry-After` for the rest, before any hashing; another address, and the owner
/// from the address that signed in before, still sign in meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_over_its_share_of_hashing_is_refused_at_once() {
    const CONCURRENT: usize = 12;
    let app = Arc::new(
        spawn_auth_app(|c| {
            c.auth.trusted_proxies = vec!["127.0.0.1".into()];
            c.auth.hash_concurrency = 1;
            c.auth.hash_queue_per_address = 2;
            c.auth.lockout_threshold = 1_000;
        })
        .await,
    );
    let email = "owner@example.com";
    register(&app, email, PASSWORD).await;
    json_with_status(
        login_response(&app, email, PASSWORD, Some("192.0.2.1")).await,
        200,
    )
    .await;

    let mut flood = tokio::task::JoinSet::new();
    for n in 0..CONCURRENT {
        let app = Arc::clone(&app);
        flood.spawn(async move {
            let email = format!("guess-{n}@example.com");
            let response = login_response(&app, &email, WRONG_PASSWORD, Some("203.0.113.66")).await;
            let retry_after = header(&response, "retry-after");
            let status = response.status().as_u16();
            let code = response.json::<serde_json::Value>().await.unwrap()["code"].clone();
            (status, retry_after, code)
        });
    }
    let owner = login_response(&app, email, PASSWORD, Some("192.0.2.1")).await;
    let other = login_response(
        &app,
        "someone@example.com",
        WRONG_PASSWORD,
        Some("192.0.2.2"),
    )
    .await;
    let answers = flood.join_all().await;
    json_with_status(owner, 200).await;
    assert_eq!(other.status(), 401, "another address keeps its own share");

    let refused: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    let checked = answers.iter().filter(|(s, _, _)| *s == 401).count();
    assert_eq!(
        refused.len() + checked,
        CONCURRENT,
        "only 401 or 429: {answers:?}"
    );
    assert!(checked >= 2, "the share itself is served: {answers:?}");
    assert!(!refused.is_empty(), "the rest is refused: {answers:?}");
    for (_, retry_after, code) in refused {
        assert_eq!(code, "too_many_requests");
        assert_eq!(retry_after.as_deref(), Some("1"));
    }
}
