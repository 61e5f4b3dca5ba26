//! Operations: the CLI (`init`, `schema check`, `migrate`), configuration layering, readiness,
//! and the server process's life from start-up migrations to graceful shutdown. Most tests run
//! the real `fathom` binary in a temporary project directory.

mod accounts;
mod cli;
mod config;
mod config_errors;
mod lifecycle;
mod migrations;
mod readiness;
pub(crate) mod support;
