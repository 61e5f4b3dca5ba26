//! The cost of the operations features on W2 (get by id, the hottest path): Prometheus metrics,
//! rate limits counted on the node, rate limits counted in Redis, and OpenTelemetry traces
//! exported to a local OTLP sink, each switched on alone in a server of this build and measured
//! against a server of this build with all of them off, started and seeded alike and taking
//! turns round by round as every workload does.

use std::net::SocketAddr;

use anyhow::Context;

use crate::client::http_client;
use crate::fathom_server::{self, PairSettings, owners, seeded_side, start_async};
use crate::loadgen::Load;
use crate::results::{OpsCost, WorkloadResult};

/// What to compare and how long.
#[derive(Debug, Clone)]
pub struct OpsCostOptions {
    pub pair: PairSettings,
    /// A Redis for the shared rate limits (`--redis-url`); without it that variant is skipped.
    pub redis_url: Option<String>,
    /// Also measure traces (`--traces`: the `fathom` binary must be built with `--features otel`).
    pub traces: bool,
}

/// A quota the workload never reaches: every request is counted, none is refused.
const UNREACHED: &str = "1000000000/hour";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The rate limits switched on, with the administrator's reads counted but never refused.
fn rate_limits_on() -> Vec<(String, String)> {
    env(&[
        ("FATHOM_RATE_LIMITS__ENABLED", "true"),
        ("FATHOM_RATE_LIMITS__ROLES__ADMIN__READ", UNREACHED),
    ])
}

/// Each variant: its label and the environment that switches it on.
fn variants(
    options: &OpsCostOptions,
    otlp_sink: Option<SocketAddr>,
) -> Vec<(String, Vec<(String, String)>)> {
    let mut variants = vec![
        (
            "metrics on".to_owned(),
            env(&[("FATHOM_METRICS__LISTEN", "127.0.0.1:0")]),
        ),
        ("rate limits on the node".to_owned(), rate_limits_on()),
    ];
    if let Some(url) = &options.redis_url {
        let mut environment = rate_limits_on();
        environment.push(("FATHOM_REDIS__URL".to_owned(), url.clone()));
        variants.push(("rate limits in Redis".to_owned(), environment));
    }
    if let Some(sink) = otlp_sink {
        variants.push((
            "traces exported (OTLP)".to_owned(),
            env(&[
                ("FATHOM_OTEL__ENDPOINT", &format!("http://{sink}/v1/traces")),
                ("FATHOM_OTEL__SAMPLING_RATIO", "1.0"),
            ]),
        ));
    }
    variants
}

/// An OTLP/HTTP receiver that accepts and drops every export, so the traces variant measures
/// the server's work and not a collector's.
async fn start_otlp_sink() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the OTLP sink")?;
    let address = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(|_body: axum::body::Bytes| async { axum::http::StatusCode::OK }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(address)
}

pub async fn run(options: &OpsCostOptions) -> anyhow::Result<OpsCost> {
    println!(
        "operations cost: W2 with metrics, rate limits (per node{}){} switched on, each against \
         a server of this build with all of them off",
        if options.redis_url.is_some() {
            ", in Redis"
        } else {
            ""
        },
        if options.traces { " and traces" } else { "" },
    );
    let otlp_sink = if options.traces {
        Some(start_otlp_sink().await?)
    } else {
        None
    };
    let client = http_client()?;
    let owners = owners();
    let off = start_async(
        options.pair.fathom.clone(),
        fathom_server::SCHEMA.to_owned(),
        Vec::new(),
    )
    .await?;
    let (off_side, off_token) = seeded_side(&off, &client, options.pair.records, &owners).await?;
    let load = Load::Closed {
        concurrency: options.pair.concurrency,
    };
    let mut rows = Vec::new();
    for (label, environment) in variants(options, otlp_sink) {
        let on = start_async(
            options.pair.fathom.clone(),
            fathom_server::SCHEMA.to_owned(),
            environment,
        )
        .await
        .with_context(|| format!("starting the server with {label}"))?;
        let (on_side, on_token) = seeded_side(&on, &client, options.pair.records, &owners).await?;
        let bench = options.pair.bench(on_side, off_side.clone(), on_token);
        let row = bench.w2_get_fathoms(load, off_token.clone()).await;
        rows.push(WorkloadResult {
            name: format!("get by id, {label}"),
            ..row
        });
    }
    Ok(OpsCost { rows })
}
