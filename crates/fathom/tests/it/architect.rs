//! The architect (docs/ARCHITECT.md): index advice verified against the database's plans, on
//! the server's own store with records written over HTTP; `fathom advise` as a process; and
//! advice from Fathom's own view of its clients, served at `GET /api/v1/admin/advice`.

mod advise_cli;
mod clients;
mod indexes;
pub(crate) mod support;
