//! An application embedding Fathom (`examples/after_commit_log.rs`, built here with cargo) is
//! killed with SIGKILL while its after-commit hook lags behind the writes: after a restart the
//! hook resumes from its persisted position and every event reaches it, in order; an event is
//! handed twice only across the crash (the one in flight when the process died).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{client_builder, database_env, scratch_database_blocking};

const SCHEMA: &str = r#"
[collections.posts]
rules = { create = true, list = true, view = true }
fields.title = { type = "text", required = true }
"#;

/// The example's executable, built once per test run by the cargo that built the suite.
fn example() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let output = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "fathom",
                "--example",
                "after_commit_log",
                "--message-format",
                "json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "building the example failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|m| m["target"]["name"] == "after_commit_log")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the example's executable")
    })
}

/// Starts the example in `dir`; returns it and the address it announced.
fn start(dir: &Path, env: &[(&str, String)]) -> (Child, String) {
    let mut child = Command::new(example())
        .current_dir(dir)
        .env("HOOK_LOG", dir.join("hook.log"))
        .env("HOOK_DELAY_MS", "5")
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the example announces its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("ADDRESS ") {
            break address.to_owned();
        }
    };
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, address)
}

/// Creates posts until `n` are acknowledged or the server stops answering; returns how many.
async fn write_posts(address: &str, n: usize) -> usize {
    let client = client_builder().build().unwrap();
    for i in 0..n {
        let sent = client
            .post(format!("http://{address}/api/v1/posts"))
            .json(&json!({ "title": format!("post {i}") }))
            .send()
            .await;
        if !sent.is_ok_and(|r| r.status() == 201) {
            return i;
        }
    }
    n
}

/// The hook's log as runs: the sequences handled after each `start` line.
fn runs(dir: &Path) -> Vec<Vec<i64>> {
    let text = std::fs::read_to_string(dir.join("hook.log")).unwrap_or_default();
    let mut runs: Vec<Vec<i64>> = Vec::new();
    for line in text.lines() {
        match line {
            "start" => runs.push(Vec::new()),
            sequence => runs
                .last_mut()
                .expect("a start line first")
                .push(sequence.parse().expect("a sequence")),
        }
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_the_hook_resumes_from_its_position_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fathom.schema.toml"), SCHEMA).unwrap();
    std::fs::write(
        dir.path().join("fathom.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\n[rate_limits]\nenabled = false\n[brokers]\nlease_ms = 2000\n",
    )
    .unwrap();
    let database = scratch_database_blocking();
    let env: Vec<(&str, String)> = database_env(database.as_ref());

    let (mut child, address) = start(dir.path(), &env);
    let written = write_posts(&address, 150).await;
    assert_eq!(written, 150);
    // Kill it while the hook (5 ms an event) is still behind the writes.
    let started = Instant::now();
    while runs(dir.path())[0].len() < 20 {
        assert!(started.elapsed() < Duration::from_secs(30), "the hook never ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = runs(dir.path())[0].clone();
    assert!(
        before.len() < 150,
        "the hook had handled everything before the kill; nothing to resume"
    );

    let (mut child, address) = start(dir.path(), &env);
    assert_eq!(write_posts(&address, 20).await, 20);
    let started = Instant::now();
    let all: Vec<i64> = (1..=170).collect();
    loop {
        let runs = runs(dir.path());
        if runs[1].last() == Some(&170) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the hook did not catch up: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let runs = runs(dir.path());
    let (before, after) = (&runs[0], &runs[1]);
    // Each run handles its events in order, without gaps.
    for run in [before, after] {
        assert!(run.windows(2).all(|w| w[1] == w[0] + 1), "{run:?}");
    }
    assert_eq!(before.first(), Some(&1));
    // The restart resumes at the persisted position: at most the event in flight again.
    let last = *before.last().unwrap();
    let first = after[0];
    assert!(first == last || first == last + 1, "resumed at {first} after {last}");
    let mut union: Vec<i64> = before.iter().chain(after).copied().collect();
    union.dedup();
    assert_eq!(union, all, "every event reached the hook");
}
