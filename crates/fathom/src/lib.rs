//! The `fathom` binary as a library: configuration, telemetry, server start-up, the demo, and the
//! CLI commands. `main.rs` only parses arguments and calls [`cli::run`]; tests build the server
//! in-process through [`Application`]. Applications embed Fathom through [`Fathom::builder`]
//! (`embed/`, docs/LIBRARY.md), which is also how `fathom serve` starts.

pub mod app;
mod auth;
pub mod cli;
mod commands;
pub mod config;
pub mod demo;
pub mod embed;
pub mod encryption;
mod http_server;
mod pruner;
mod reload;
mod shape_flush;
mod side_runtime;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
pub use embed::{
    AfterCommit, ApiError, AppState, BeforeWrite, CommittedEvent, Engine, Fathom, FathomBuilder,
    HookCode, HookContext, HookFailure, HookRefusal, JsonObject, OperationDoc, PendingWrite,
    Principal, RouteDoc, WriteKind,
};
