//! Logging and traces: one function builds the subscriber. JSON lines when stdout is not a
//! terminal (or when asked), human-readable text on a terminal. `RUST_LOG` overrides the
//! configured level. Lines reach stdout in batches ([`batched`]). Built with the `otel` feature
//! and with `[otel]` on, spans are also exported as OpenTelemetry traces (`otel.rs`).

mod batched;
#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "otel")]
mod otlp_client;

use std::io::IsTerminal;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use self::batched::BatchedWriter;
use crate::config::{LogConfig, LogFormat, OtelConfig};

/// Writes the lines still in memory when dropped: hold it until the server has stopped.
#[must_use = "dropping the guard does not stop logging, but the last lines are written then"]
pub struct FlushOnDrop(BatchedWriter<std::io::Stdout>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let _ = self.0.flush();
    }
}

/// What [`init`] started: hold it until the server has stopped, then [`Telemetry::shutdown`].
#[must_use = "dropping it loses the log lines and spans still in memory"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    traces: Option<otel::Traces>,
    // Last, so that the lines logged while the traces shut down are written too.
    _logs: FlushOnDrop,
}

impl Telemetry {
    /// Sends the spans still in memory (when traces are on); the log lines follow on drop.
    pub async fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(traces) = self.traces {
            traces.shutdown().await;
        }
    }
}

/// Installs the global subscriber. Safe to call more than once (later calls install nothing).
/// Fails only when `[otel]` asks for traces that cannot be exported. Traces need a tokio runtime
/// (their HTTP client runs on it).
pub fn init(config: &LogConfig, otel: &OtelConfig) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let writer = BatchedWriter::start(std::io::stdout(), Duration::from_millis(config.flush_ms));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(writer.clone());
    // The log level filters the log lines only, so that traces do not depend on it.
    let lines: Box<dyn Layer<Registry> + Send + Sync> = if json {
        lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed()
    } else {
        lines.compact().with_filter(filter).boxed()
    };
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut layers = vec![lines];
    #[cfg(feature = "otel")]
    let traces = if otel.enabled() {
        let (traces, layer) = otel::start(otel)?;
        layers.push(layer);
        Some(traces)
    } else {
        None
    };
    #[cfg(not(feature = "otel"))]
    let _ = otel;
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(Telemetry {
        #[cfg(feature = "otel")]
        traces,
        _logs: FlushOnDrop(writer),
    })
}
