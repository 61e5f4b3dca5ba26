//! Operations seen from outside: Prometheus metrics (scraped and parsed after a known
//! workload) and request log settings.

pub(crate) mod exposition;
pub(crate) mod metrics;
