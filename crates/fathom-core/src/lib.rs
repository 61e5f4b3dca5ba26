//! Types shared by every Fathom crate: the one table of stable, machine-readable error codes
//! (each crate's error type says which `ErrorCode` it is, and only the API crate turns a code
//! into an HTTP response), and the policy of outbound calls (`outbound`: breaker, backoff,
//! `Retry-After`) that mail, webhooks and brokers share, and the seam of distributed tracing
//! (`trace_context`) through which the binary's OpenTelemetry support reaches the other crates.

mod error_code;
pub mod outbound;
pub mod trace_context;

pub use error_code::ErrorCode;
