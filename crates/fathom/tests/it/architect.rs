//! The architect (docs/ARCHITECT.md): index advice verified against the database's plans, on
//! the server's own store with records written over HTTP; `fathom advise` as a process; and
//! advice from Fathom's own view of its clients, served at `GET /api/v1/admin/advice`, with
//! the index advice of reads made over HTTP (`end_to_end.rs`).

mod advise_cli;
mod clients;
mod end_to_end;
mod indexes;
pub(crate) mod support;
