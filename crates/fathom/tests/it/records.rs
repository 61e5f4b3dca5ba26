//! The records API over HTTP: every endpoint's happy path, every field type, every error code the
//! API can answer with, the request limits, request ids, security headers and CORS, concurrent
//! writers, and the bundled demo. One submodule per concern.

mod client_ids;
mod crud;
mod demo;
mod errors;
mod field_types;
mod headers;
mod limits;
mod routing;
mod slow_writes;
mod support;
mod unique_and_relations;
mod validation;
mod writers;
