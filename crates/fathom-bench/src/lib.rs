//! Fathom's benchmark suite: an HTTP load generator (closed and open loop, HDR histograms,
//! coordinated-omission correction), the workloads W1–W6 (W5: realtime subscribers over SSE and
//! WebSocket, `w5.rs` and `subscriber.rs`), the outbox's write cost against a build of `main`, a bare axum + rusqlite baseline server,
//! seeding, a result table and JSON file, and an SVG chart drawn from those results.
//!
//! The binary (`src/main.rs`) drives it; `scripts/bench.sh` runs the whole suite.

pub mod baseline;
pub mod cache_cost;
pub mod chart;
pub mod client;
pub mod data;
pub mod docs;
pub mod encryption_cost;
pub mod engine_cost;
pub mod fathom_server;
pub mod floor;
pub mod loadgen;
pub mod machine;
pub mod ops_cost;
pub mod outbox_cost;
pub mod proc_stats;
pub mod process;
pub mod report;
pub mod results;
pub mod seed;
pub mod shapes_cost;
pub mod subscriber;
pub mod suite;
pub mod targets;
pub mod w5;
pub mod w7;
pub mod workloads;
