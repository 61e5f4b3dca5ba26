//! The commerce example: a shop built on Fathom as a library (examples/commerce/README.md).
//! `schema.toml` is its data model; [`hooks`] run before writes, inside their transaction
//! (placing an order reserves stock, order states move stock); [`steps`] and [`flow`] run after
//! commit (payment, fulfilment, compensations); [`payments`] reaches the payment provider, a
//! separate HTTP service ([`provider`]), through a circuit breaker; [`shop`] puts it together;
//! [`load`] and [`check`] drive and verify a run.

pub mod check;
pub mod flow;
pub mod hooks;
pub mod load;
pub mod payments;
pub mod provider;
pub mod records;
pub mod routes;
pub mod scenario;
pub mod seed;
pub mod shop;
pub mod steps;

pub use shop::{Shop, ShopOptions};
