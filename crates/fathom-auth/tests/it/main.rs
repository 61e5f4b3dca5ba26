//! The integration tests of `fathom-auth`, one binary with one module per area.

mod jwt;
mod password;
mod pool;
mod token;
