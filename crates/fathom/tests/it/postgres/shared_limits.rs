//! Rate limits shared through Redis (`redis.url`): three nodes on one database enforce one
//! limit, not three; with Redis gone each node counts on its own (and says so in `/ready` and
//! `/metrics`) without refusing or failing a request for it, and shares again by itself once
//! Redis is back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::brokers::support::free_port;
use crate::helpers::{TestApp, json_with_status, on_postgres, send_as, spawn_nodes_with};
use crate::rate_limits::support::remaining;

const SCHEMA: &str = super::OPEN_NOTES;

/// The Redis of `scripts/test.sh` (`FATHOM_TEST_REDIS_URL`), which these tests need.
fn redis_url() -> String {
    std::env::var("FATHOM_TEST_REDIS_URL").expect(
        "the shared rate-limit tests need FATHOM_TEST_REDIS_URL (a redis:// URL); scripts/test.sh starts one (scripts/redis.sh)",
    )
}

/// A redis-server of the test's own on a free port below 32768, without persistence; it can be
/// stopped and started again on the same port (empty, as after a restart).
struct PrivateRedis {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivateRedis {
    fn start() -> Self {
        let mut redis = Self {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
        };
        redis.resume();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; scripts/redis.sh does)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Three nodes counting in the Redis at `url`, under a key prefix of their own (other tests
/// share the Redis), with an anonymous read quota of `quota`.
async fn cluster(url: &str, quota: &str) -> Option<Vec<TestApp>> {
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let (url, quota) = (url.to_owned(), quota.to_owned());
    let nodes = spawn_nodes_with(SCHEMA, 3, move |c| {
        c.redis.url = Some(fathom::config::Secret::new(url.clone()));
        c.redis.key_prefix = prefix.clone();
        c.rate_limits.anonymous.read = Some(quota.clone());
        c.metrics.listen = Some("127.0.0.1:0".into());
    })
    .await;
    if nodes.is_none() {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
    }
    nodes
}

/// `GET /api/v1/notes` anonymously on each node in turn, `n` times: the statuses.
async fn round_robin(nodes: &[TestApp], n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..n {
        let response = send_as(&nodes[i % nodes.len()], "GET", "/api/v1/notes", None, None).await;
        statuses.push(response.status().as_u16());
    }
    statuses
}

async fn ready(node: &TestApp) -> Value {
    json_with_status(send_as(node, "GET", "/ready", None, None).await, 200).await
}

/// Waits until `node`'s `/ready` says rate limits are counted in `store`.
async fn await_store(node: &TestApp, store: &str) {
    let started = Instant::now();
    loop {
        let ready = ready(node).await;
        if ready["rate_limits"]["store"] == store {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "rate limits never counted in {store}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scrape(node: &TestApp) -> String {
    let address = node.metrics_address.expect("metrics.listen is set");
    crate::helpers::client_builder()
        .build()
        .unwrap()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn three_nodes_enforce_one_limit_through_redis() {
    if !on_postgres() {
        return;
    }
    let url = redis_url();
    let Some(nodes) = cluster(&url, "6/min").await else {
        return;
    };
    assert_eq!(ready(&nodes[0]).await["rate_limits"]["store"], "redis");
    let mut left = Vec::new();
    for i in 0..6 {
        let response = send_as(&nodes[i % 3], "GET", "/api/v1/notes", None, None).await;
        assert_eq!(response.status(), 200, "request {i}");
        left.push(remaining(&response).expect("RateLimit").1);
    }
    assert_eq!(
        left,
        vec![5, 4, 3, 2, 1, 0],
        "one budget, counted down by all three"
    );
    assert_eq!(
        round_robin(&nodes, 3).await,
        vec![429, 429, 429],
        "every node refuses once the cluster's quota is spent"
    );
}

#[tokio::test]
async fn without_redis_each_node_counts_alone_and_sharing_resumes_when_it_is_back() {
    if !on_postgres() {
        return;
    }
    let mut redis = PrivateRedis::start();
    let Some(nodes) = cluster(&redis.url(), "2/min").await else {
        return;
    };
    assert_eq!(round_robin(&nodes, 3).await, vec![200, 200, 429]);

    redis.stop();
    // The first request to find Redis gone is still answered (counted on its node).
    let statuses = round_robin(&nodes, 9).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "no request fails for want of Redis: {statuses:?}"
    );
    for node in &nodes {
        await_store(node, "local_fallback").await;
    }
    // Each node now has its own bucket of 2: after the ones spent above, all are spent.
    let statuses = round_robin(&nodes, 6).await;
    assert!(statuses.iter().all(|s| *s == 429), "{statuses:?}");
    let ready_now = ready(&nodes[1]).await;
    assert_eq!(ready_now["rate_limits"]["shared"], false, "{ready_now}");
    let metrics = scrape(&nodes[1]).await;
    assert!(metrics.contains("fathom_rate_limit_shared 0"), "{metrics}");
    assert!(
        metrics.contains("fathom_rate_limit_redis_outages_total{store=\"redis\"} 1"),
        "{metrics}"
    );

    redis.resume();
    for node in &nodes {
        await_store(node, "redis").await;
    }
    // Redis came back empty: one fresh budget of 2 for the whole cluster again.
    assert_eq!(round_robin(&nodes, 4).await, vec![200, 200, 429, 429]);
    assert!(
        scrape(&nodes[2])
            .await
            .contains("fathom_rate_limit_shared 1")
    );
}

#[tokio::test]
async fn the_sign_in_lockout_is_shared_by_the_nodes() {
    if !on_postgres() {
        return;
    }
    use crate::auth::support::{PASSWORD, WRONG_PASSWORD, login_response, register};
    let url = redis_url();
    let prefix = format!("test-{}", uuid::Uuid::now_v7().simple());
    let Some(nodes) = spawn_nodes_with(SCHEMA, 3, move |c| {
        c.redis.url = Some(fathom::config::Secret::new(url.clone()));
        c.redis.key_prefix = prefix.clone();
        c.auth.lockout_threshold = 3;
        c.auth.argon2_memory_kib = 19_456;
        c.auth.argon2_iterations = 2;
        c.auth.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    else {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return;
    };
    let nodes: Vec<TestApp> = nodes
        .into_iter()
        .map(TestApp::without_credentials)
        .collect();
    let email = "shared@example.com";
    register(&nodes[0], email, PASSWORD).await;
    let attacker = Some("198.51.100.9");
    for node in &nodes {
        let response = login_response(node, email, WRONG_PASSWORD, attacker).await;
        assert_eq!(response.status(), 401);
    }
    // One failure on each node is three for the account: the address is refused everywhere,
    // even with the right password.
    for node in &nodes {
        let refused = login_response(node, email, PASSWORD, attacker).await;
        assert_eq!(refused.status(), 401, "the lockout holds on every node");
    }
    let owner = login_response(&nodes[1], email, PASSWORD, Some("203.0.113.5")).await;
    assert_eq!(owner.status(), 200, "another address is not locked out");
}
