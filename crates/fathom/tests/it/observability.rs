//! Operations seen from outside: Prometheus metrics (scraped and parsed after a known
//! workload), request log settings, and (with the `otel` feature) OpenTelemetry traces received
//! by a real OTLP receiver. Outbound calls (webhooks, breakers, lag) in `outbound.rs`.

pub(crate) mod exposition;
pub(crate) mod metrics;
#[cfg(feature = "otel")]
mod otlp;
mod outbound;
#[cfg(feature = "otel")]
mod traces;
