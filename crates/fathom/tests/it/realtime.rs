//! Realtime over SSE and WebSocket (`docs/REALTIME.md`): the protocol's answers to bad input,
//! credentials and tickets, visibility per subscriber, order, resume, snapshots, slow clients and
//! shutdown. Every test drives the real server over HTTP and WebSocket.

mod auth;
mod bad_input;
mod delivery;
mod resume;
mod slow;
mod snapshot;
pub mod support;
mod visibility;
