//! Shared test harness: spawn the server, talk to it, run the CLI.
//!
//! One switch picks the database every test runs on: by default SQLite in the test's temporary
//! directory; with `FATHOM_TEST_BACKEND=postgres`, a scratch PostgreSQL database created for the
//! test on the server of `FATHOM_TEST_PG_URL` (a superuser's URL) and dropped after it.
//! `scripts/test.sh` runs the suite both ways.

#![allow(dead_code)]

mod accounts;

pub use accounts::{mint_member, mint_member_at, mint_user, server_ring};

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fathom::config::Secret;
use fathom::{Application, Config};
use fathom_store::ScratchDatabase;
use serde_json::Value;
use tempfile::TempDir;

/// Whether this run of the suite targets PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("FATHOM_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The admin URL of the test PostgreSQL server, if one is configured.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("FATHOM_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh scratch database when the suite runs on PostgreSQL (`None` on SQLite).
pub async fn scratch_database() -> Option<ScratchDatabase> {
    if !on_postgres() {
        return None;
    }
    let admin = pg_admin_url().expect(
        "FATHOM_TEST_BACKEND=postgres needs FATHOM_TEST_PG_URL (a superuser's URL); scripts/test.sh sets both",
    );
    Some(
        ScratchDatabase::create(&admin)
            .await
            .expect("a scratch PostgreSQL database"),
    )
}

/// [`scratch_database`] for synchronous tests (those that drive the `fathom` binary).
pub fn scratch_database_blocking() -> Option<ScratchDatabase> {
    if !on_postgres() {
        return None;
    }
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(scratch_database())
    })
    .join()
    .expect("creating a scratch database")
}

/// The environment that points a `fathom` process at `database` (nothing on SQLite).
pub fn database_env(database: Option<&ScratchDatabase>) -> Vec<(&'static str, String)> {
    database
        .map(|d| vec![("FATHOM_DATABASE__URL", d.url().to_owned())])
        .unwrap_or_default()
}

/// A schema exercising every field type and constraint, used by most API tests.
pub const TEST_SCHEMA: &str = r#"
[users]
fields.display_name = { type = "text", max_length = 40 }

[collections.categories]
fields.name = { type = "text", required = true, unique = true, max_length = 40 }

[collections.items]
soft_delete = true
fields.title    = { type = "text", required = true, min_length = 2, max_length = 20 }
fields.code     = { type = "text", unique = true, pattern = "[A-Z]{3}-[0-9]+" }
fields.qty      = { type = "integer", min = 0, max = 1000, default = 1 }
fields.weight   = { type = "number", min = 0.5 }
fields.price    = { type = "decimal", min = 0 }
fields.active   = { type = "boolean", default = true }
fields.seen_at  = { type = "timestamp" }
fields.due      = { type = "date" }
fields.ref      = { type = "uuid" }
fields.meta     = { type = "json" }
fields.status   = { type = "enum", values = ["new", "done"], default = "new" }
fields.category = { type = "relation", collection = "categories" }
fields.contact  = { type = "email" }
fields.link     = { type = "url" }

[collections.notes]
fields.body = { type = "text", required = true }
"#;

/// A running in-process server with its own data directory.
pub struct TestApp {
    pub address: SocketAddr,
    /// The metrics listener's address, when `metrics.listen` is set.
    pub metrics_address: Option<SocketAddr>,
    /// The server's own storage handle (for statement counts and query plans in tests).
    pub store: fathom_store::Store,
    pub schema: std::sync::Arc<fathom_schema::Schema>,
    /// The server's auth state (the development mailbox is where tests read mailed tokens).
    pub auth: std::sync::Arc<fathom_api::AuthState>,
    /// The server's webhooks (tests read which node holds a delivery lease).
    pub webhooks: std::sync::Arc<fathom_webhooks::Webhooks>,
    /// A client without credentials.
    pub anonymous: reqwest::Client,
    /// The test administrator's access token (already the default of `client`).
    pub admin_token: String,
    pub client: reqwest::Client,
    pub data_dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The scratch PostgreSQL database (PostgreSQL runs); dropped last.
    pub database: Option<ScratchDatabase>,
}

/// A reqwest client builder, with the process's TLS crypto provider installed first (see
/// `fathom_webhooks::install_crypto_provider`): every client in the tests is built here.
pub fn client_builder() -> reqwest::ClientBuilder {
    fathom_webhooks::install_crypto_provider();
    reqwest::Client::builder()
}

/// Default configuration for tests: port 0 and the given data directory.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.database.data_dir = data_dir.to_path_buf();
    config
}

/// [`test_config`] on this run's database: the data directory, or `database` on PostgreSQL.
pub fn test_config_on(data_dir: &Path, database: Option<&ScratchDatabase>) -> Config {
    let mut config = test_config(data_dir);
    if let Some(database) = database {
        config.database.url = Some(Secret::new(database.url()));
    }
    config
}

/// Starts the server on `schema` (TOML source) with default test configuration.
pub async fn spawn_app(schema: &str) -> TestApp {
    spawn_app_with(schema, |_| {}).await
}

/// Starts the server on `schema`, letting the test adjust the configuration first.
pub async fn spawn_app_with(schema: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = scratch_database().await;
    let mut config = test_config_on(data_dir.path(), database.as_ref());
    adjust(&mut config);
    let schema =
        fathom_schema::parse_schema("test.schema.toml", schema).expect("test schema is valid");
    let app = Application::build(&config, schema, "fathom.db")
        .await
        .expect("server builds");
    start(app, data_dir, database).await
}

/// Starts `n` servers on one scratch PostgreSQL database, as the nodes of a cluster: each has
/// its own store (connection pool, outbox follower) and listener. The test administrator's token
/// works on all of them (the signing keys are shared through the database). `None` on SQLite.
pub async fn spawn_nodes(schema: &str, n: usize) -> Option<Vec<TestApp>> {
    spawn_nodes_with(schema, n, |_| {}).await
}

/// [`spawn_nodes`], adjusting each node's configuration first.
pub async fn spawn_nodes_with(
    schema: &str,
    n: usize,
    adjust: impl Fn(&mut Config),
) -> Option<Vec<TestApp>> {
    let database = scratch_database().await?;
    let schema =
        fathom_schema::parse_schema("test.schema.toml", schema).expect("test schema is valid");
    let mut nodes: Vec<TestApp> = Vec::with_capacity(n);
    for _ in 0..n {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config_on(data_dir.path(), Some(&database));
        adjust(&mut config);
        let app = Application::build(&config, schema.clone(), "fathom.db")
            .await
            .expect("a node builds");
        let admin = match nodes.first() {
            Some(first) => Admin::Existing(first.admin_token.clone()),
            None => Admin::New(TEST_ADMIN),
        };
        nodes.push(start_as(app, data_dir, None, admin).await);
    }
    // The last node to be dropped drops the database.
    if let Some(last) = nodes.last_mut() {
        last.database = Some(database);
    }
    Some(nodes)
}

/// Starts another node on the PostgreSQL database of `first` (same schema, its own data
/// directory and administrator `admin_email`), as a second server of one cluster.
pub async fn spawn_node(first: &TestApp, schema: &str, admin_email: &str) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(data_dir.path());
    let url = first
        .database
        .as_ref()
        .expect("another node needs the PostgreSQL database of the first")
        .url();
    config.database.url = Some(Secret::new(url));
    let schema =
        fathom_schema::parse_schema("test.schema.toml", schema).expect("test schema is valid");
    let app = Application::build(&config, schema, "fathom.db")
        .await
        .expect("server builds");
    start_as(app, data_dir, None, Admin::New(admin_email)).await
}

/// Starts the bundled demo (schema and seed data).
pub async fn spawn_demo() -> TestApp {
    spawn_demo_with(|_| {}).await
}

/// Starts the bundled demo with every collection's answers cached (`cache = "30s"`).
pub async fn spawn_demo_cached() -> TestApp {
    spawn_demo_with(|schema| {
        for collection in schema.collections.values_mut() {
            std::sync::Arc::make_mut(collection).cache = Some(CACHE_TTL);
        }
    })
    .await
}

/// How long the cached variants of suites cache answers: longer than any test runs, so that
/// only invalidation can make an answer fresh.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// `schema` (a schema file) with `cache = "30s"` in every collection.
pub fn cached(schema: &str) -> String {
    schema
        .lines()
        .flat_map(|line| {
            let header = line.starts_with("[collections.") && line.trim_end().ends_with(']');
            [Some(line), header.then_some("cache = \"30s\"")]
        })
        .flatten()
        .fold(String::new(), |text, line| text + line + "\n")
}

/// Starts the bundled demo (schema and seed data), its schema changed by `adjust`.
async fn spawn_demo_with(adjust: impl FnOnce(&mut fathom_schema::Schema)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = scratch_database().await;
    let mut config = test_config_on(data_dir.path(), database.as_ref());
    config.encryption.key_file =
        Some(fathom::encryption::demo_key_file(data_dir.path()).expect("demo key file"));
    let mut schema = fathom::demo::schema().expect("demo schema");
    adjust(&mut schema);
    let app = Application::build(&config, schema, fathom::demo::DATABASE_FILE)
        .await
        .expect("server builds");
    fathom::demo::seed_if_empty(app.state())
        .await
        .expect("seed");
    start(app, data_dir, database).await
}

/// The tenant [`TestApp::create`] puts records of tenant-scoped collections in: the demo's, so
/// that new records may point at seeded ones.
pub const TEST_TENANT: &str = fathom::demo::DEMO_TENANT;

/// The administrator every in-process test server has; its token is the default credential of
/// `TestApp::client`, so suites about records run as an administrator (rules are tested with
/// `TestApp::anonymous` and user clients).
pub const TEST_ADMIN: &str = "test-admin@example.com";
pub const TEST_ADMIN_PASSWORD: &str = "test administrator passphrase 2026";

async fn start(app: Application, data_dir: TempDir, database: Option<ScratchDatabase>) -> TestApp {
    start_as(app, data_dir, database, Admin::New(TEST_ADMIN)).await
}

/// Serves an application built elsewhere (`fathom::Fathom::builder`) on `data_dir` and
/// `database` (those its configuration names), with the test administrator.
pub async fn start_built(
    app: Application,
    data_dir: TempDir,
    database: Option<ScratchDatabase>,
) -> TestApp {
    start(app, data_dir, database).await
}

/// The test administrator of a server being started.
enum Admin<'a> {
    /// Created with this email.
    New(&'a str),
    /// Already in the database (a restart, another node): its token.
    Existing(String),
}

async fn start_as(
    app: Application,
    data_dir: TempDir,
    database: Option<ScratchDatabase>,
    admin: Admin<'_>,
) -> TestApp {
    let address = app.local_addr().expect("bound address");
    let metrics_address = app.metrics_addr();
    let (store, schema) = (app.state().store.clone(), app.state().schema.clone());
    let auth = app.state().auth.clone();
    let webhooks = app.state().webhooks.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let anonymous = client_builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let admin_token = match admin {
        Admin::Existing(token) => token,
        Admin::New(email) => mint_user(&store, &auth, email, &["admin"]).await.1,
    };
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {admin_token}").parse().expect("header"),
    );
    let client = client_builder()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .expect("client");
    TestApp {
        address,
        metrics_address,
        store,
        schema,
        auth,
        webhooks,
        client,
        anonymous,
        admin_token,
        data_dir,
        stop: Some(stop_tx),
        server: Some(server),
        database,
    }
}

impl TestApp {
    /// This app with a client that sends no credentials by default.
    pub fn without_credentials(mut self) -> Self {
        self.client = self.anonymous.clone();
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a record and returns its JSON (`data`), asserting a 201. As the administrator
    /// reaches every tenant, a record of a tenant-scoped collection goes to [`TEST_TENANT`]
    /// unless the body names one.
    pub async fn create(&self, collection: &str, body: &Value) -> Value {
        let mut body = body.clone();
        let scoped = self
            .schema
            .collection(collection)
            .is_some_and(|c| c.tenant_scoped);
        if scoped && let Some(object) = body.as_object_mut() {
            object
                .entry("tenant")
                .or_insert_with(|| Value::from(TEST_TENANT));
        }
        let response = self
            .post_json(&format!("/api/v1/{collection}"), &body)
            .await;
        let status = response.status();
        let json: Value = response.json().await.expect("json body");
        assert_eq!(status, 201, "create {collection} failed: {json}");
        json["data"].clone()
    }

    /// Stops the server gracefully, then starts it again on the same data directory (or
    /// PostgreSQL database) with `schema`, as a restart of the process would.
    pub async fn restart(self, schema: &str) -> TestApp {
        self.restart_with(schema, |_| {}).await
    }

    /// [`TestApp::restart`] with the configuration adjusted (a key file, for one).
    pub async fn restart_with(mut self, schema: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.halt().await;
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("dir"));
        let database = self.database.take();
        let mut config = test_config_on(data_dir.path(), database.as_ref());
        adjust(&mut config);
        let schema =
            fathom_schema::parse_schema("test.schema.toml", schema).expect("test schema is valid");
        let app = Application::build(&config, schema, "fathom.db")
            .await
            .expect("server builds");
        let admin = Admin::Existing(self.admin_token.clone());
        start_as(app, data_dir, database, admin).await
    }

    /// Stops the server gracefully, keeping its data directory (to run the CLI on it, or to
    /// [`TestApp::restart`] later).
    pub async fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Runs the CLI to completion on this app's data directory (and PostgreSQL database).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with_env(args, &[])
    }

    /// [`TestApp::cli`] with extra environment variables (a password, which never goes on the
    /// command line).
    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = Command::new(fathom_bin());
        command.envs(env.iter().copied());
        command
            .args(args)
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .current_dir(self.data_dir.path())
            .env_remove("RUST_LOG");
        if let Some(database) = &self.database {
            command.env("FATHOM_DATABASE__URL", database.url());
        }
        command.output().expect("fathom runs")
    }
}

/// Sends a request with exactly the credentials given: `token` as a bearer token, or none.
pub async fn send_as(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .anonymous
        .request(method.parse().expect("method"), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request sent")
}

/// Reads a response as JSON, asserting the status first (with the body in the message).
pub async fn json_with_status(response: reqwest::Response, expected: u16) -> Value {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert_eq!(status, expected, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem+json response with `status` and `code`, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = json_with_status(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status, "body: {body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string() && body["hint"].is_string(),
        "body: {body}"
    );
    assert!(body["errors"].is_array(), "body: {body}");
    assert_eq!(
        body["requestId"],
        request_id.as_str(),
        "problem requestId must match the header"
    );
    body
}

/// The path of the built `fathom` binary.
pub fn fathom_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fathom"))
}

/// Runs the CLI to completion in `dir` (with no FATHOM_* variables from the test environment).
pub fn run_cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(fathom_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("fathom runs")
}

/// A `fathom serve` child process and the address it announced.
pub struct ServerProcess {
    pub child: Child,
    pub address: SocketAddr,
    /// The JSON log lines written after the "listening" one, as they arrive.
    logs: Arc<Mutex<Vec<Value>>>,
}

impl ServerProcess {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends SIGTERM (via the `kill` command, to keep the suite free of unsafe code).
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Sends SIGHUP: reload the schema file.
    pub fn hangup(&self) {
        self.signal("-HUP");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Log lines since the start whose message contains `text`.
    pub fn logs_containing(&self, text: &str) -> Vec<Value> {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|line| line["message"].as_str().is_some_and(|m| m.contains(text)))
            .cloned()
            .collect()
    }

    /// Waits (up to 10 s) for the `n`th log line whose message contains `text` and returns it;
    /// fails the test, showing the log, when none comes.
    pub fn wait_for_log(&self, text: &str, n: usize) -> Value {
        let started = Instant::now();
        loop {
            if let Some(line) = self.logs_containing(text).into_iter().nth(n - 1) {
                return line;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
                panic!("no log line #{n} containing {text:?}; the log: {logs:#?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `fathom serve --listen 127.0.0.1:0 ARGS` in `dir` and waits for its "listening" line.
pub fn spawn_server_process(dir: &Path, args: &[&str]) -> ServerProcess {
    spawn_server_process_with_env(dir, args, &[])
}

/// Like [`spawn_server_process`], with extra environment variables for the child only.
pub fn spawn_server_process_with_env(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> ServerProcess {
    let mut child = Command::new(fathom_bin())
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env("FATHOM_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fathom serve starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let Some(Ok(line)) = lines.next() else {
            let output = child.wait_with_output().expect("exit");
            panic!(
                "fathom serve exited before listening: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        if let Ok(event) = serde_json::from_str::<Value>(&line)
            && let Some(address) = event["address"].as_str()
        {
            break address.parse().expect("socket address");
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe, keeping what it logs.
    let logs = Arc::new(Mutex::new(Vec::new()));
    let kept = logs.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(event);
            }
        }
    });
    ServerProcess {
        child,
        address,
        logs,
    }
}
