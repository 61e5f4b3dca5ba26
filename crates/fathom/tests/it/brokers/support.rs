//! What the broker tests share: the brokers' URLs from the environment, a private nats-server
//! that a test may stop and start again, sink configurations, readers of a JetStream stream, and
//! waiting for a server's sinks to catch up.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fathom::config::{Config, NatsSinkConfig, RabbitmqSinkConfig, Secret};
use serde_json::{Value, json};

use crate::helpers::{ServerProcess, TestApp, json_with_status};

/// A schema with a hidden field (which must never reach a broker) and open write rules (so a
/// server process can be written to without signing in).
pub const SCHEMA: &str = r#"
[collections.posts]
rules = { create = true, update = true, delete = true, list = true, view = true }
fields.title  = { type = "text", required = true }
fields.secret = { type = "text", hidden = true }

[collections.notes]
fields.body = { type = "text", required = true }
"#;

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the broker tests need a running broker (run `source scripts/brokers.sh && brokers_start`, as scripts/test.sh does)"
        )
    })
}

pub fn nats_url() -> String {
    required_env("FATHOM_TEST_NATS_URL")
}

pub fn amqp_url() -> String {
    required_env("FATHOM_TEST_AMQP_URL")
}

/// A name no other test uses (streams, subjects, exchanges live in shared brokers).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::now_v7().simple())
}

/// A NATS sink publishing to `<prefix>.<collection>.<operation>` and creating `stream`.
pub fn nats_sink(name: &str, url: &str, prefix: &str, stream: &str) -> NatsSinkConfig {
    NatsSinkConfig {
        name: name.into(),
        url: Some(Secret::new(url)),
        url_file: None,
        subject_prefix: prefix.into(),
        stream: Some(stream.into()),
        duplicate_window_secs: 600,
        ack_timeout_ms: 2_000,
        in_flight: 64,
        collections: Vec::new(),
        operations: Vec::new(),
    }
}

/// A RabbitMQ sink publishing to `exchange`.
pub fn rabbitmq_sink(name: &str, url: &str, exchange: &str) -> RabbitmqSinkConfig {
    RabbitmqSinkConfig {
        name: name.into(),
        url: Some(Secret::new(url)),
        url_file: None,
        exchange: exchange.into(),
        declare_exchange: true,
        routing_key_prefix: String::new(),
        confirm_timeout_ms: 5_000,
        in_flight: 64,
        collections: Vec::new(),
        operations: Vec::new(),
    }
}

/// Short leases, so that tests of takeover take seconds.
pub fn fast_leases(config: &mut Config) {
    config.brokers.lease_ms = 2_000;
}

/// Every message of `stream`, in stream order: (subject, `Nats-Msg-Id`, body), once the stream
/// holds at least `expected` (waiting up to 30 s).
pub async fn stream_messages(
    url: &str,
    stream: &str,
    expected: u64,
) -> Vec<(String, String, Value)> {
    let client = async_nats::connect(url).await.expect("NATS answers");
    let jetstream = async_nats::jetstream::new(client);
    let started = Instant::now();
    let stream = loop {
        if let Ok(stream) = jetstream.get_stream(stream).await
            && let Ok(info) = stream.get_info().await
            && info.state.messages >= expected
        {
            break stream;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the stream {stream} did not reach {expected} messages"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let count = stream.get_info().await.expect("stream info").state.messages;
    let mut out = Vec::new();
    for sequence in 1..=count {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("stream message");
        let id = message
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&message.payload).expect("JSON body");
        out.push((message.subject.to_string(), id, body));
    }
    out
}

/// How many messages `stream` holds now.
pub async fn stream_count(url: &str, stream: &str) -> u64 {
    let client = async_nats::connect(url).await.expect("NATS answers");
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream.get_stream(stream).await.expect("stream exists");
    stream.get_info().await.expect("stream info").state.messages
}

/// The server's sinks as the admin API reports them.
pub async fn sinks(app: &TestApp) -> Vec<Value> {
    let body = json_with_status(app.get("/api/v1/admin/brokers").await, 200).await;
    body["data"].as_array().cloned().unwrap_or_default()
}

/// Waits (up to `limit`) until `check` holds for the server's sinks; returns them.
pub async fn wait_for_sinks(
    app: &TestApp,
    limit: Duration,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let sinks = sinks(app).await;
        if check(&sinks) {
            return sinks;
        }
        assert!(
            started.elapsed() < limit,
            "the sinks never got to: {what}; they are {sinks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every sink has published everything (backlog 0 at the outbox's latest
/// sequence, which must be at least `latest`).
pub async fn wait_drained(app: &TestApp, latest: i64) -> Vec<Value> {
    wait_for_sinks(app, Duration::from_secs(60), "drained", |sinks| {
        sinks
            .iter()
            .all(|s| s["role"] == "publishing" && s["position"].as_i64().unwrap_or(0) >= latest)
    })
    .await
}

/// The outbox's events (as the administrator's change feed shows them), in sequence order.
pub async fn feed(app: &TestApp) -> Vec<Value> {
    let body = json_with_status(app.get("/api/v1/events?after=0&limit=1000").await, 200).await;
    body["data"].as_array().cloned().unwrap_or_default()
}

/// A nats-server of the test's own (JetStream, storage in a temporary directory) on a free
/// port below 32768; it can be stopped and started again on the same port and storage.
pub struct PrivateNats {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl PrivateNats {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut nats = Self {
            child: None,
            dir,
            port,
        };
        nats.resume();
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL: the broker goes away at once, mid-stream).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage; waits until it accepts connections.
    pub fn resume(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (apt-get install nats-server; scripts/brokers.sh does)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..200 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + u16::try_from(random % 12_000).unwrap_or(0);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below 32768");
}

/// A project directory: the broker test schema and a `fathom.toml` with one NATS sink
/// (`crash`) and 2 s leases.
pub fn write_project(dir: &Path, url: &str, prefix: &str, stream: &str) {
    write_project_with(
        dir,
        &format!(
            r#"
[[brokers.nats]]
name = "crash"
url = "{url}"
subject_prefix = "{prefix}"
stream = "{stream}"
duplicate_window_secs = 600
"#
        ),
    );
}

/// A project directory: the broker test schema and a `fathom.toml` with 2 s leases, no data-API
/// rate limits and `sinks` (TOML).
pub fn write_project_with(dir: &Path, sinks: &str) {
    std::fs::write(dir.join("fathom.schema.toml"), SCHEMA).unwrap();
    std::fs::write(
        dir.join("fathom.toml"),
        // No data-API rate limits: the tests write their posts anonymously from one address.
        format!("[rate_limits]\nenabled = false\n[brokers]\nlease_ms = 2000\n{sinks}"),
    )
    .unwrap();
}

/// Creates `n` posts through `server`, as fast as it answers; stops at the first failure (the
/// server was killed). Returns how many were acknowledged.
pub async fn write_posts(server_url: String, n: usize) -> usize {
    let client = crate::helpers::client_builder()
        .build()
        .expect("an HTTP client");
    for i in 0..n {
        let sent = client
            .post(format!("{server_url}/api/v1/posts"))
            .json(&json!({ "title": format!("post {i}"), "secret": "s" }))
            .send()
            .await;
        if !sent.is_ok_and(|r| r.status() == 201) {
            return i;
        }
    }
    n
}

/// Waits until the server process's one sink publishes and has no backlog.
pub async fn process_drained(server: &ServerProcess) {
    let client = crate::helpers::client_builder()
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    loop {
        let ready: Value = client
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sink = &ready["brokers"][0];
        if sink["role"] == "publishing" && sink["backlog"] == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backlog never drained: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A RabbitMQ node of the test's own, as `scripts/brokers.sh` starts one (everything it writes in
/// a temporary directory, no plugins), on free ports; it can be killed and started again on the
/// same ports and data (durable queues and persistent messages survive).
pub struct PrivateRabbitmq {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
    dist_port: u16,
}

impl PrivateRabbitmq {
    pub fn start() -> Self {
        let mut rabbitmq = Self {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            dist_port: free_port(),
        };
        std::fs::write(rabbitmq.dir.path().join("plugins"), "[].\n").unwrap();
        rabbitmq.resume();
        rabbitmq
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node; waits (up to 3 minutes: RabbitMQ boots slowly on a busy machine) until
    /// it accepts connections.
    pub fn resume(&mut self) {
        let dir = self.dir.path();
        let child = Command::new("/usr/lib/rabbitmq/bin/rabbitmq-server")
            .current_dir(dir)
            .env("HOME", dir)
            .env(
                "RABBITMQ_NODENAME",
                format!("fathom-it-{}@localhost", self.port),
            )
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("plugins"))
            .env("RABBITMQ_CONFIG_FILES", dir.join("none"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "rabbitmq-server runs (apt-get install rabbitmq-server; scripts/brokers.sh does)",
            );
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "RabbitMQ did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the node (SIGKILL to the Erlang VM, whose pid RabbitMQ wrote) and waits for it.
    pub fn stop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("pid")) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.dir.path().join("pid"));
    }
}

impl Drop for PrivateRabbitmq {
    fn drop(&mut self) {
        self.stop();
    }
}
