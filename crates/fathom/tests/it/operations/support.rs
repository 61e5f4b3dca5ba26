//! What the operations tests share: a scratch project directory, CLI runs with their output as
//! text, server processes started with extra environment, and a small HTTP client.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use fathom_store::ScratchDatabase;

use crate::helpers::{
    ServerProcess, database_env, fathom_bin, scratch_database_blocking,
    spawn_server_process_with_env,
};

/// How long any child process may take before the test gives up on it.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// A temporary project directory: schema files, `fathom.toml`, and `fathom_data/` (the default
/// data directory, relative to where the CLI runs). On PostgreSQL runs it also has a scratch
/// database, which every command and server of the project uses (`FATHOM_DATABASE__URL`).
pub struct Project {
    dir: TempDir,
    pub database: Option<ScratchDatabase>,
}

/// A finished CLI run.
#[derive(Debug)]
pub struct CliRun {
    /// `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Project {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            database: scratch_database_blocking(),
        }
    }

    /// The environment every process of this project gets, then `extra` (which wins).
    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
        let mut env = database_env(self.database.as_ref());
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path().join(name), contents).expect("write file");
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).expect("read file")
    }

    /// Runs `fathom ARGS` in the project directory to completion.
    pub fn cli(&self, args: &[&str]) -> CliRun {
        self.cli_with_env(args, &[])
    }

    /// Runs `fathom ARGS` in the project directory with extra environment variables.
    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> CliRun {
        let output = Command::new(fathom_bin())
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .envs(self.env(env))
            .output()
            .expect("fathom runs");
        CliRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `fathom migrate ACTION --schema SCHEMA [EXTRA]`.
    pub fn migrate(&self, action: &str, schema: &str, extra: &[&str]) -> CliRun {
        let mut args = vec!["migrate", action, "--schema", schema];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// Asserts `fathom migrate status` finds the schema file applied, and returns its output.
    #[track_caller]
    pub fn assert_nothing_pending(&self) -> String {
        let status = self.cli(&["migrate", "status"]);
        assert!(
            status
                .stdout
                .ends_with("The schema file is applied: nothing pending.\n"),
            "{}",
            status.stdout
        );
        status.stdout
    }

    /// Runs `fathom serve --listen 127.0.0.1:0 ARGS`, expecting it to exit on its own (a refusal
    /// to start); kills it and fails the test if it is still running after the timeout.
    pub fn serve_expecting_exit(&self, args: &[&str]) -> CliRun {
        let mut child = Command::new(fathom_bin())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .envs(self.env(&[]))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fathom serve starts");
        let started = Instant::now();
        while child.try_wait().expect("try_wait").is_none() {
            if started.elapsed() > PROCESS_TIMEOUT {
                let _ = child.kill();
                let output = child.wait_with_output().expect("output");
                panic!(
                    "fathom serve kept running instead of refusing to start; stderr: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("output");
        CliRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts `fathom serve --listen 127.0.0.1:0 ARGS` in the project directory.
    pub fn serve(&self, args: &[&str]) -> ServerProcess {
        self.serve_with_env(args, &[])
    }

    /// Like [`Project::serve`], with extra environment variables for the child only.
    pub fn serve_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> ServerProcess {
        let env = self.env(env);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        spawn_server_process_with_env(self.path(), args, &env)
    }
}

/// Sends SIGTERM and waits for the process to exit; fails the test if it does not in time.
pub fn stop(server: &mut ServerProcess) -> ExitStatus {
    server.terminate();
    wait_for_exit(&mut server.child)
}

/// Waits for a child to exit, failing the test after the timeout.
pub fn wait_for_exit(child: &mut Child) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            started.elapsed() < PROCESS_TIMEOUT,
            "the server did not exit in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks `check` every 50 ms until it answers true, for up to 10 s (a server follows a migration
/// within about a second); returns whether it did.
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A minimal JSON client for server processes.
pub struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    pub fn new(server: &ServerProcess) -> Self {
        let client = crate::helpers::client_builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            client,
            base: server.url(""),
        }
    }

    /// GET `path`: status and JSON body (`Null` when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent");
        read(response).await
    }

    /// POST `body` as JSON to `path`: status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("request sent");
        read(response).await
    }

    /// PATCH `body` as JSON to `path`: status and JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .patch(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("request sent");
        read(response).await
    }

    /// Creates a record, asserting a 201, and returns its `data`.
    pub async fn create(&self, collection: &str, body: &Value) -> Value {
        let (status, json) = self.post(&format!("/api/v1/{collection}"), body).await;
        assert_eq!(status, 201, "create {collection} failed: {json}");
        json["data"].clone()
    }

    /// Every record of a collection (one page is enough for these tests), asserting a 200.
    pub async fn list(&self, collection: &str) -> Vec<Value> {
        let (status, json) = self.get(&format!("/api/v1/{collection}?limit=100")).await;
        assert_eq!(status, 200, "list {collection} failed: {json}");
        json["data"].as_array().expect("data is an array").clone()
    }

    /// One record by id, asserting a 200.
    pub async fn record(&self, collection: &str, id: &Value) -> Value {
        let id = id.as_str().expect("id is a string");
        let (status, json) = self.get(&format!("/api/v1/{collection}/{id}")).await;
        assert_eq!(status, 200, "get {collection}/{id} failed: {json}");
        json["data"].clone()
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
