//! Fathom as a library (`fathom::Fathom::builder`, docs/LIBRARY.md): custom routes on the served
//! router, after-commit hooks driven by the outbox, and a hook surviving a SIGKILL of the
//! process that embeds it (`examples/after_commit_log.rs`), and the hooks in `/metrics`.

mod after_commit;
mod before_write;
mod crash;
mod metrics;
mod routes;
mod support;
