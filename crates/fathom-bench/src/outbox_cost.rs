//! The outbox's write cost: W1 (create, 1 and 32 workers) against a `fathom` built from `main`
//! (before the outbox) and this build, in the same run, taking turns round by round as every
//! workload does. Both servers start fresh and empty with the same settings, so the only
//! difference is the code: on this build every create also appends its event to the outbox in
//! the same transaction, and the realtime hub reads it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::client::{http_client, login};
use crate::fathom_server::{self, ADMIN_EMAIL, ADMIN_PASSWORD, FathomOptions, FathomServer};
use crate::loadgen::Bounds;
use crate::results::AgainstMain;
use crate::workloads::{Bench, Side};

/// What to compare and how long.
#[derive(Debug, Clone)]
pub struct OutboxCostOptions {
    /// This build's server settings.
    pub fathom: FathomOptions,
    /// The `fathom` binary built from `main`.
    pub main_bin: PathBuf,
    pub bounds: Bounds,
    pub rounds: u32,
    pub warmup: std::time::Duration,
}

/// Owners of the created items (any uuid does: the field is not a relation).
fn owners() -> Arc<Vec<String>> {
    Arc::new(
        (1..=20)
            .map(|n| format!("00000000-0000-7000-8000-{n:012}"))
            .collect(),
    )
}

async fn start(options: FathomOptions) -> anyhow::Result<FathomServer> {
    tokio::task::spawn_blocking(move || fathom_server::start(&options))
        .await
        .context("the start-up task failed")?
}

/// The commit the main binary was built from, written beside it by `scripts/bench.sh`.
pub(crate) fn main_commit(main_bin: &Path) -> Option<String> {
    let mut path = main_bin.as_os_str().to_owned();
    path.push(".commit");
    std::fs::read_to_string(PathBuf::from(path))
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

pub async fn run(options: &OutboxCostOptions) -> anyhow::Result<AgainstMain> {
    println!(
        "outbox cost: W1 against this build (\"Fathom\") and main (\"baseline\", {}), fresh \
         servers",
        options.main_bin.display()
    );
    let this = start(options.fathom.clone()).await?;
    let main = start(FathomOptions {
        bin: options.main_bin.clone(),
        ..options.fathom.clone()
    })
    .await?;
    let client = http_client()?;
    let side = |server: &FathomServer| Side {
        base: server.process.url(""),
        client: client.clone(),
        pid: server.process.pid(),
        ids: Arc::new(Vec::new()),
    };
    let this_admin = login(&client, &side(&this).base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let main_admin = login(&client, &side(&main).base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let bench = Bench::two_fathoms(
        side(&this),
        side(&main),
        Arc::from(this_admin.access_token.as_str()),
        options.bounds,
        (options.rounds, options.warmup),
        1,
    );
    let main_token: Arc<str> = Arc::from(main_admin.access_token.as_str());
    let mut rows = Vec::new();
    for concurrency in [1, 32] {
        rows.push(
            bench
                .w1_create_fathoms(concurrency, main_token.clone(), owners())
                .await,
        );
    }
    drop(main);
    drop(this);
    Ok(AgainstMain {
        main_commit: main_commit(&options.main_bin),
        rows,
    })
}
