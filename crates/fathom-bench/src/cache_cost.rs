//! The result cache's effect: W3 with `count=true` (and W2, a get by id, for reference) against
//! two servers of this build started alike, one on the bench schema with `cache = "30s"` on
//! `items` and one on the bench schema as it is, seeded alike and taking turns round by round
//! as every workload does. Only reads run meanwhile.

use anyhow::{Context, anyhow};
use fathom_store::ScratchDatabase;

use crate::fathom_server::{self, PairSettings, start_async};
use crate::loadgen::Load;
use crate::results::CacheCost;

/// What to compare and how long.
#[derive(Debug, Clone)]
pub struct CacheCostOptions {
    pub pair: PairSettings,
    /// A PostgreSQL superuser's URL (`--pg-admin-url`): each server then gets a scratch
    /// database of its own on that server (dropped afterwards) instead of SQLite.
    pub pg_admin_url: Option<String>,
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

/// A scratch database on the PostgreSQL server of `admin_url` and the environment that points a
/// server at it; nothing (SQLite in the server's data directory) without one.
async fn database(
    admin_url: Option<&str>,
) -> anyhow::Result<(Option<ScratchDatabase>, Vec<(String, String)>)> {
    let Some(admin_url) = admin_url else {
        return Ok((None, Vec::new()));
    };
    let database = ScratchDatabase::create(admin_url)
        .await
        .map_err(|e| anyhow!("creating a scratch database: {e}"))?;
    let environment = vec![("FATHOM_DATABASE__URL".to_owned(), database.url().to_owned())];
    Ok((Some(database), environment))
}

pub async fn run(options: &CacheCostOptions) -> anyhow::Result<CacheCost> {
    println!(
        "result cache: W3 with count=true and W2 on items cached for 30 s against the same \
         schema uncached, fresh servers of this build on {}",
        if options.pg_admin_url.is_some() {
            "PostgreSQL (a scratch database each)"
        } else {
            "SQLite"
        }
    );
    let (cached_db, cached_env) = database(options.pg_admin_url.as_deref()).await?;
    let (plain_db, plain_env) = database(options.pg_admin_url.as_deref()).await?;
    let cached = start_async(options.pair.fathom.clone(), cached_schema()?, cached_env).await?;
    let plain = start_async(
        options.pair.fathom.clone(),
        fathom_server::SCHEMA.to_owned(),
        plain_env,
    )
    .await?;
    let (bench, plain_token) = options.pair.seed_pair(&cached, &plain).await?;
    let reads = Load::Closed {
        concurrency: options.pair.concurrency,
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
    for database in [cached_db, plain_db].into_iter().flatten() {
        database
            .drop_database()
            .await
            .context("dropping a scratch database")?;
    }
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
