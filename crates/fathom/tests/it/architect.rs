//! The architect (docs/ARCHITECT.md): index advice verified against the database's plans, on
//! the server's own store with records written over HTTP, and `fathom advise` as a process.

mod advise_cli;
mod indexes;
pub(crate) mod support;
