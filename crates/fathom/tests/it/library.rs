//! Fathom as a library (`fathom::Fathom::builder`, docs/LIBRARY.md): custom routes on the served
//! router, after-commit hooks driven by the outbox, and a hook surviving a SIGKILL of the
//! process that embeds it (`examples/after_commit_log.rs`).

mod after_commit;
mod crash;
mod routes;
mod support;
