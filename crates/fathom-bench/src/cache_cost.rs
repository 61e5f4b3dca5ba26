//! The result cache's effect: W3 with `count=true` (and W2, a get by id, for reference) against
//! two servers of this build started alike, one on the bench schema with `cache = "30s"` on
//! `items` and one on the bench schema as it is, seeded alike and taking turns round by round
//! as every workload does. Only reads run meanwhile.

use std::sync::Arc;

use anyhow::{Context, anyhow};

use crate::client::{http_client, login};
use crate::fathom_server::{self, ADMIN_EMAIL, ADMIN_PASSWORD, FathomOptions, FathomServer};
use crate::loadgen::{Bounds, Load};
use crate::results::CacheCost;
use crate::seed::seed_fathom;
use crate::workloads::{Bench, Side};

/// What to compare and how long.
#[derive(Debug, Clone)]
pub struct CacheCostOptions {
    pub fathom: FathomOptions,
    /// Records seeded into each server.
    pub records: u64,
    pub bounds: Bounds,
    pub rounds: u32,
    pub warmup: std::time::Duration,
    /// Workers of the closed loops.
    pub concurrency: usize,
}

/// The bench schema with the answers about `items` cached for 30 s.
pub fn cached_schema() -> anyhow::Result<String> {
    let header = "[collections.items]\n";
    let schema = fathom_server::SCHEMA;
    schema
        .contains(header)
        .then(|| schema.replace(header, &format!("{header}cache = \"30s\"\n")))
        .ok_or_else(|| anyhow!("the bench schema no longer declares `{}`", header.trim()))
}

async fn start(options: FathomOptions, schema: String) -> anyhow::Result<FathomServer> {
    tokio::task::spawn_blocking(move || fathom_server::start_with(&options, &schema, &[]))
        .await
        .context("the start-up task failed")?
}

/// Owners of the seeded items (any uuid does: the field is not a relation).
fn owners() -> Vec<String> {
    (1..=20)
        .map(|n| format!("00000000-0000-7000-8000-{n:012}"))
        .collect()
}

pub async fn run(options: &CacheCostOptions) -> anyhow::Result<CacheCost> {
    println!(
        "result cache: W3 with count=true and W2 on items cached for 30 s against the same \
         schema uncached, fresh servers of this build"
    );
    let cached = start(options.fathom.clone(), cached_schema()?).await?;
    let plain = start(options.fathom.clone(), fathom_server::SCHEMA.to_owned()).await?;
    let client = http_client()?;
    let owners = owners();
    let mut sides = Vec::new();
    for server in [&cached, &plain] {
        let base = server.process.url("");
        let admin = login(&client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
        let seeded = seed_fathom(
            &client,
            &base,
            &admin.access_token,
            options.records,
            &owners,
        )
        .await?;
        let side = Side {
            base,
            client: client.clone(),
            pid: server.process.pid(),
            ids: Arc::new(seeded.ids),
        };
        sides.push((side, Arc::<str>::from(admin.access_token.as_str())));
    }
    let (plain_side, plain_token) = sides.pop().context("the uncached server")?;
    let (cached_side, cached_token) = sides.pop().context("the cached server")?;
    let bench = Bench {
        fathom: cached_side,
        baseline: plain_side,
        admin_token: cached_token,
        users: Arc::new(Vec::new()),
        bounds: options.bounds,
        rounds: options.rounds,
        warmup: options.warmup,
        concurrency: options.concurrency,
        open_rate: 0.0,
        login_concurrency: 1,
        flood_read_concurrency: 1,
    };
    let reads = Load::Closed {
        concurrency: options.concurrency,
    };
    let rows = vec![
        bench
            .w3_count_fathoms(Load::Closed { concurrency: 1 }, plain_token.clone())
            .await,
        bench.w3_count_fathoms(reads, plain_token.clone()).await,
        bench.w2_get_fathoms(reads, plain_token).await,
    ];
    drop(plain);
    drop(cached);
    Ok(CacheCost { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_schema_differs_in_one_line() {
        let schema = cached_schema().expect("items found");
        assert_eq!(schema.matches("cache = \"30s\"").count(), 1);
        assert_eq!(
            schema.lines().count(),
            fathom_server::SCHEMA.lines().count() + 1
        );
    }
}
