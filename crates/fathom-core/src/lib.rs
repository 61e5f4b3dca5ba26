//! Types shared by every Fathom crate. Today that is the one table of stable, machine-readable
//! error codes: each crate's error type says which `ErrorCode` it is, and only the API crate turns
//! a code into an HTTP response.

mod error_code;

pub use error_code::ErrorCode;
