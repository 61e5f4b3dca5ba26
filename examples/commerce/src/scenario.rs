//! A whole run in one process: the payment provider on a port of its own, the shop beside it,
//! the accounts and catalog, the orders placed under the provider's chaos, then the wait until
//! every invariant holds. `commerce run` prints it; the end-to-end test asserts it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context;
use fathom::Config;
use fathom_api::AppState;
use fathom_store::ScratchDatabase;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::check::{settle, states};
use crate::load::{Api, Plan, Report, World, place_orders, prepare};
use crate::payments::PaymentSettings;
use crate::provider::{Chaos, Counts, Provider};
use crate::shop::{Shop, ShopOptions};

/// How long the flow may take to bring every order to rest after the last placement.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(180);

/// Partitions of the order flow in a run.
pub const PARTITIONS: u32 = 8;

/// A shop serving beside its provider, until [`Running::stop`].
pub struct Running {
    pub provider: Provider,
    pub api: Api,
    pub state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await.context("the server task panicked")?
    }
}

/// A finished run; the server keeps serving until [`Running::stop`] on `running`.
pub struct Finished {
    pub report: Report,
    /// From the last placement until every invariant held.
    pub settled: Result<Duration, Vec<String>>,
    pub states: BTreeMap<String, usize>,
    pub counts: Counts,
    pub world: World,
    pub running: Running,
}

/// The payment client's settings for a run: a provider that times out is given up on after
/// 300 ms, two retries.
pub fn payment_settings(base_url: String) -> PaymentSettings {
    let mut settings = PaymentSettings::local(base_url);
    settings.timeout = Duration::from_millis(300);
    settings.backoff.retries = 2;
    settings
}

/// The configuration of a run's server: port 0, `data_dir`, and no rate limits (50 customers
/// sign in and shop from one address).
pub fn config(data_dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.database.data_dir = data_dir.to_path_buf();
    config.rate_limits.enabled = false;
    config.auth.rate_limits.login = 0;
    config
}

/// Starts the provider (well-behaved) and the shop on `config`.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let provider = Provider::new(Chaos::default());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let provider_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(provider.clone().serve(listener));

    let shop = Shop::build(ShopOptions {
        config,
        payments: payment_settings(provider_url),
        partitions: PARTITIONS,
    })
    .await?;
    let address = shop.app.local_addr()?;
    let state = shop.app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(shop.app.run_until(async move {
        let _ = stopped.await;
    }));
    Ok(Running {
        provider,
        api: Api::new(format!("http://{address}"))?,
        state,
        stop,
        server,
    })
}

/// A scratch PostgreSQL database when `FATHOM_TEST_BACKEND=postgres` (from the superuser URL
/// in `FATHOM_TEST_PG_URL`), put in `config`; `None` (SQLite) otherwise. Dropping it drops the
/// database.
pub async fn scratch_database(config: &mut Config) -> anyhow::Result<Option<ScratchDatabase>> {
    if std::env::var("FATHOM_TEST_BACKEND").as_deref() != Ok("postgres") {
        return Ok(None);
    }
    let admin = std::env::var("FATHOM_TEST_PG_URL")
        .context("FATHOM_TEST_BACKEND=postgres needs FATHOM_TEST_PG_URL (a superuser's URL)")?;
    let database = ScratchDatabase::create(&admin)
        .await
        .map_err(|e| anyhow::anyhow!("creating a scratch database: {}", e.detail))?;
    config.database.url = Some(fathom::config::Secret::new(database.url().to_owned()));
    Ok(Some(database))
}

/// Runs `plan` against a shop on `config` with the provider misbehaving as `chaos`.
pub async fn run(config: Config, plan: &Plan, chaos: Chaos) -> anyhow::Result<Finished> {
    let running = start(config).await?;
    let (api, state, provider) = (&running.api, &running.state, &running.provider);
    let mut world = prepare(state, api, plan).await?;
    let initial: HashMap<Uuid, i64> = world.products.iter().map(|p| (p.id, p.stock)).collect();
    provider.set_chaos(chaos);
    let report = place_orders(api, plan, &mut world).await?;
    let settled = settle(
        &state.store,
        &state.schema,
        &initial,
        provider,
        SETTLE_LIMIT,
    )
    .await?;
    let states = states(&state.store, &state.schema).await?;
    Ok(Finished {
        report,
        settled,
        states,
        counts: provider.counts(),
        world,
        running,
    })
}
