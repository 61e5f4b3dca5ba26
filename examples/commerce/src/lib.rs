//! The commerce example: a shop built on Fathom as a library. `provider` is the payment
//! provider it charges (a separate HTTP service), `payments` the client that reaches it
//! through a circuit breaker.

pub mod payments;
pub mod provider;
