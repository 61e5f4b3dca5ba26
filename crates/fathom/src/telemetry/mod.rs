//! Logging: one function builds the subscriber. JSON lines when stdout is not a terminal (or when
//! asked), human-readable text on a terminal. `RUST_LOG` overrides the configured level. Lines
//! reach stdout in batches ([`batched`]).

mod batched;

use std::io::IsTerminal;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use self::batched::BatchedWriter;
use crate::config::{LogConfig, LogFormat};

/// Writes the lines still in memory when dropped: hold it until the server has stopped.
#[must_use = "dropping the guard does not stop logging, but the last lines are written then"]
pub struct FlushOnDrop(BatchedWriter<std::io::Stdout>);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let _ = self.0.flush();
    }
}

/// Installs the global subscriber. Safe to call more than once (later calls install nothing).
pub fn init(config: &LogConfig) -> FlushOnDrop {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let writer = BatchedWriter::start(std::io::stdout(), Duration::from_millis(config.flush_ms));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer.clone());
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.compact().try_init()
    };
    FlushOnDrop(writer)
}
