//! Operations seen from outside: Prometheus metrics (scraped and parsed after a known
//! workload) and request log settings.

mod exposition;
mod metrics;
