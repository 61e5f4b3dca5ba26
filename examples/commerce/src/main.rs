//! `commerce`: `run` plays the whole scenario in one process and prints its figures;
//! `serve` runs the shop (with its own payment provider beside it unless told where one is);
//! `provider` runs the payment provider alone.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use commerce::load::Plan;
use commerce::provider::{Chaos, Provider};
use commerce::scenario;
use commerce::{Shop, ShopOptions};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(about = "A shop built on Fathom as a library (examples/commerce/README.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The end-to-end scenario: two stores, 50 customers, 100 products, 1,000 orders against a
    /// provider failing 20 % and timing out 5 % of calls; prints the figures and the verdict.
    /// On SQLite in a temporary directory, or on a scratch PostgreSQL database with
    /// `FATHOM_TEST_BACKEND=postgres FATHOM_TEST_PG_URL=<a superuser's URL>`.
    Run {
        #[arg(long, default_value_t = 1_000)]
        orders: usize,
        #[arg(long, default_value_t = 20.0)]
        fail_percent: f64,
        #[arg(long, default_value_t = 5.0)]
        timeout_percent: f64,
    },
    /// Serves the shop.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value = "commerce-data")]
        data_dir: PathBuf,
        /// The payment provider's base URL; without it one is started on a free port.
        #[arg(long)]
        provider_url: Option<String>,
    },
    /// Serves the payment provider alone.
    Provider {
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Run {
            orders,
            fail_percent,
            timeout_percent,
        } => run(orders, fail_percent, timeout_percent).await,
        Command::Serve {
            listen,
            data_dir,
            provider_url,
        } => serve(listen, data_dir, provider_url).await,
        Command::Provider { listen } => {
            let listener = TcpListener::bind(&listen).await?;
            println!("payment provider on http://{}", listener.local_addr()?);
            Provider::default().serve(listener).await?;
            Ok(())
        }
    }
}

async fn run(orders: usize, fail_percent: f64, timeout_percent: f64) -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let mut config = scenario::config(data.path());
    // PostgreSQL as the tests pick it (FATHOM_TEST_BACKEND=postgres, FATHOM_TEST_PG_URL).
    let _database = scenario::scratch_database(&mut config).await?;
    let plan = Plan {
        orders,
        ..Plan::standard()
    };
    let chaos = Chaos {
        fail_percent,
        timeout_percent,
        timeout_ms: 1_000,
        ..Chaos::default()
    };
    let finished = scenario::run(config, &plan, chaos).await?;
    let report = &finished.report;
    println!(
        "{} placements by {} customers in {:.1} s: {} placed, {} refused out of stock, {} retried after a conflict",
        report.placed + report.out_of_stock,
        plan.customers,
        report.elapsed.as_secs_f64(),
        report.placed,
        report.out_of_stock,
        report.conflicts
    );
    println!(
        "{:.1} orders/s; order latency p50 {:.1} ms, p99 {:.1} ms",
        report.orders_per_second(),
        report.quantile(0.5).as_secs_f64() * 1e3,
        report.quantile(0.99).as_secs_f64() * 1e3
    );
    println!("orders by state: {:?}", finished.states);
    println!("provider calls: {:?}", finished.counts);
    let verdict = match &finished.settled {
        Ok(took) => {
            println!(
                "every invariant holds, {:.1} s after the last placement",
                took.as_secs_f64()
            );
            Ok(())
        }
        Err(problems) => {
            for problem in problems.iter().take(20) {
                println!("PROBLEM: {problem}");
            }
            Err(anyhow::anyhow!("{} invariants broken", problems.len()))
        }
    };
    finished.running.stop().await?;
    verdict
}

async fn serve(
    listen: String,
    data_dir: PathBuf,
    provider_url: Option<String>,
) -> anyhow::Result<()> {
    let provider_url = match provider_url {
        Some(url) => url,
        None => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            tokio::spawn(Provider::default().serve(listener));
            println!("payment provider on {url} (PUT {url}/control to make it misbehave)");
            url
        }
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut config = fathom::Config::default();
    config.server.listen = listen;
    config.database.data_dir = data_dir;
    let shop = Shop::build(ShopOptions {
        config,
        payments: commerce::payments::PaymentSettings::local(provider_url),
        partitions: scenario::PARTITIONS,
    })
    .await?;
    println!("shop on http://{}", shop.app.local_addr()?);
    shop.app.run_until_stopped().await
}
