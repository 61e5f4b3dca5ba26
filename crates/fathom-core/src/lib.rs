//! Types shared by every Fathom crate: the one table of stable, machine-readable error codes
//! (each crate's error type says which `ErrorCode` it is, and only the API crate turns a code
//! into an HTTP response), and the policy of outbound calls (`outbound`: breaker, backoff,
//! `Retry-After`) that mail, webhooks and brokers share.

mod error_code;
pub mod outbound;

pub use error_code::ErrorCode;
