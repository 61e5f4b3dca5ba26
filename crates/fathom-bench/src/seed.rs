//! Seeding both servers with the same generated records: Fathom through its batch endpoint
//! (validation, rules and group commit included, as a client would load data), the baseline
//! straight into its table. Both show a progress bar.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Client;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::data::{Lcg, NewItem, item};

/// Operations per `POST /api/v1/batch` (Fathom's maximum).
pub const BATCH_SIZE: u64 = 100;
/// Batches in flight at once while seeding Fathom.
const BATCHES_IN_FLIGHT: usize = 4;
/// Rows per transaction while seeding the baseline.
const BASELINE_CHUNK: usize = 10_000;
/// Both servers get the same sequence of records.
const SEED: u64 = 42;

/// What a seeding produced.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub ids: Vec<String>,
    pub elapsed: Duration,
}

/// A progress bar for `total` records (hidden when stderr is not a terminal).
pub fn progress_bar(total: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>9} [{bar:40}] {pos}/{len} records ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    bar
}

/// The generated records, in order.
pub fn records(count: u64, owners: &[String]) -> impl Iterator<Item = NewItem> + '_ {
    let mut rng = Lcg::new(SEED);
    (0..count).map(move |n| item(n, &mut rng, owners))
}

/// Creates `count` records in Fathom's `items` through `POST /api/v1/batch` as `token`.
pub async fn seed_fathom(
    client: &Client,
    base: &str,
    token: &str,
    count: u64,
    owners: &[String],
) -> anyhow::Result<Seeded> {
    let bar = progress_bar(count, "Fathom");
    let started = Instant::now();
    let url = format!("{base}/api/v1/batch");
    let mut generated = records(count, owners).peekable();
    let mut in_flight = JoinSet::new();
    let mut ids = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    while generated.peek().is_some() || !in_flight.is_empty() {
        while in_flight.len() < BATCHES_IN_FLIGHT && generated.peek().is_some() {
            let operations: Vec<Value> = generated
                .by_ref()
                .take(BATCH_SIZE as usize)
                .map(|body| json!({ "op": "create", "collection": "items", "body": body }))
                .collect();
            let request = client
                .post(&url)
                .bearer_auth(token)
                .json(&json!({ "operations": operations }));
            in_flight.spawn(send_batch(request));
        }
        if let Some(done) = in_flight.join_next().await {
            let batch = done.context("a seeding task failed")??;
            bar.inc(batch.len() as u64);
            ids.extend(batch);
        }
    }
    bar.finish_and_clear();
    Ok(Seeded {
        ids,
        elapsed: started.elapsed(),
    })
}

async fn send_batch(request: reqwest::RequestBuilder) -> anyhow::Result<Vec<String>> {
    let response = request.send().await.context("sending a batch")?;
    let status = response.status();
    let body: Value = response.json().await.context("reading a batch answer")?;
    ensure!(status.is_success(), "a batch answered {status}: {body}");
    body.get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("a batch answer has no data array: {body}"))?
        .iter()
        .map(|result| {
            result
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("a batch result has no id: {result}"))
        })
        .collect()
}

/// Inserts the same `count` records straight into the baseline's table at `path`.
pub async fn seed_baseline(
    path: &Path,
    durability: &str,
    count: u64,
    owners: &[String],
) -> anyhow::Result<Seeded> {
    let (path, durability, owners) = (path.to_owned(), durability.to_owned(), owners.to_vec());
    tokio::task::spawn_blocking(move || {
        let bar = progress_bar(count, "baseline");
        let started = Instant::now();
        let ids = crate::baseline::db::seed(
            &path,
            &durability,
            records(count, &owners),
            BASELINE_CHUNK,
            |rows| bar.inc(rows),
        )?;
        bar.finish_and_clear();
        Ok(Seeded {
            ids,
            elapsed: started.elapsed(),
        })
    })
    .await
    .context("the baseline seeding task failed")?
}
