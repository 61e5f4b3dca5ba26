//! Encrypted fields (issue 15): values at rest are ciphertext in the tables, the write-ahead log
//! and the outbox; readers get plaintext; filters work by equality through the blind index and
//! are refused otherwise; start-up refuses a missing key.

mod at_rest;
mod filters;
mod keys;
mod migration;
mod process;
mod realtime;
mod rotation;
mod support;
