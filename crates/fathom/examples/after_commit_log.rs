//! A small application embedding Fathom: the configuration and schema of the current directory
//! (as `fathom serve` reads them), one after-commit hook that appends every event's sequence to
//! the file named by `HOOK_LOG` (one line per event; a line `start` whenever the process
//! starts), and one custom route. It prints `ADDRESS <addr>` once it listens.
//!
//! The integration suite runs it as a process and kills it with SIGKILL mid-stream
//! (tests/it/library/crash.rs); `HOOK_DELAY_MS` slows the hook down so that it lags behind the
//! writes.
//!
//! ```sh
//! HOOK_LOG=hook.log cargo run -p fathom --example after_commit_log
//! ```

use std::io::Write;
use std::time::Duration;

use axum::Json;
use fathom::{
    AfterCommit, CommittedEvent, Fathom, HookContext, HookFailure, OperationDoc, Principal,
};
use serde_json::json;

/// Appends each event's sequence to a file.
struct SequenceLog {
    path: std::path::PathBuf,
    delay: Duration,
}

#[async_trait::async_trait]
impl AfterCommit for SequenceLog {
    async fn handle(&self, event: &CommittedEvent, _ctx: &HookContext) -> Result<(), HookFailure> {
        tokio::time::sleep(self.delay).await;
        append(&self.path, &event.sequence.to_string())
            .map_err(|e| HookFailure::new(e.to_string()))
    }
}

fn append(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{line}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::path::PathBuf::from(std::env::var("HOOK_LOG").unwrap_or("hook.log".into()));
    let delay = std::env::var("HOOK_DELAY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    append(&path, "start")?;
    let app = Fathom::builder()
        .after_commit("sequence-log", SequenceLog { path, delay })
        .route(
            "/api/v1/hello",
            axum::routing::get(|caller: Principal| async move {
                Json(json!({ "admin": caller.is_admin() }))
            }),
            OperationDoc::get("Says hello to the caller"),
        )
        .build()
        .await?;
    println!("ADDRESS {}", app.local_addr()?);
    app.serve().await
}
