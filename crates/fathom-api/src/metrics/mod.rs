//! Prometheus metrics of one node: the HTTP server's own (recorded by the request middleware,
//! named after the OpenTelemetry HTTP semantic conventions), and the live state of the store,
//! sign-ins, rate limits, realtime and outbound calls (webhooks, brokers, mail), read at scrape time by [`collect::Live`].
//!
//! Each node has its own [`Registry`] (no global recorder), so in-process test nodes do not mix
//! their counts. Nothing is recorded when metrics are off (`HttpConfig::metrics`).

mod collect;
mod counts;
mod endpoint;
mod hooks;
mod outbound;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub(crate) use counts::{SignIn, SignInCounts};
pub(crate) use endpoint::route as token_route;
pub use endpoint::{MetricsToken, router as listener_router};
pub use hooks::HookStats;

use crate::auth::AuthState;
use crate::realtime::Realtime;

/// The OpenTelemetry recommended boundaries of `http.server.request.duration`, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The labels of `http_server_request_duration_seconds`: the method (`_OTHER` for one outside
/// the registered set), the route template (axum's `MatchedPath`, never the raw path, so ids and
/// query values never become labels) and the status class (`2xx` ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    pub http_request_method: &'static str,
    pub http_route: String,
    pub http_response_status_class: &'static str,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

/// One node's metrics; shared by every state the node serves across schema reloads.
pub struct Metrics {
    registry: Registry,
    duration: HistogramFamily,
    active: Gauge,
    /// The broker sinks the collector reports, set when the server has built them.
    brokers: Arc<outbound::BrokersSlot>,
    /// The application's after-commit hooks, set when the server has built them.
    hooks: Arc<hooks::HooksSlot>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub(crate) fn new(
        store: fathom_store::Store,
        auth: Arc<AuthState>,
        realtime: Arc<Realtime>,
        cache: Arc<crate::cache::ResultCache>,
        webhooks: Arc<fathom_webhooks::Webhooks>,
    ) -> Arc<Self> {
        let mut registry = Registry::default();
        let duration: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests",
            Unit::Seconds,
            duration.clone(),
        );
        let active = Gauge::default();
        registry.register(
            "http_server_active_requests",
            "Number of active HTTP server requests",
            active.clone(),
        );
        let brokers = Arc::new(outbound::BrokersSlot::default());
        let hooks = Arc::new(hooks::HooksSlot::default());
        registry.register_collector(Box::new(collect::Live {
            store,
            auth,
            realtime,
            cache,
            webhooks,
            brokers: brokers.clone(),
            hooks: hooks.clone(),
        }));
        Arc::new(Self {
            registry,
            duration,
            active,
            brokers,
            hooks,
        })
    }

    /// Reports `brokers` (the server's broker sinks) from now on.
    pub(crate) fn set_brokers(&self, brokers: fathom_brokers::Brokers) {
        *self
            .brokers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = brokers;
    }

    /// Reports `hooks` (the application's after-commit hooks, by name) from now on.
    pub fn set_hooks(&self, hooks: Vec<(String, Arc<HookStats>)>) {
        *self
            .hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = hooks;
    }

    /// Counts a request in flight until the guard is dropped (also when the request is
    /// cancelled).
    pub(crate) fn in_flight(self: &Arc<Self>) -> InFlight {
        self.active.inc();
        InFlight(Arc::clone(self))
    }

    /// Records one answered request.
    pub(crate) fn observe(&self, labels: &HttpLabels, elapsed: Duration) {
        self.duration
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// A request in flight; see [`Metrics::in_flight`].
pub(crate) struct InFlight(Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.active.dec();
    }
}

/// The method as a label value: the registered methods, and `_OTHER` for anything else, so a
/// client cannot mint series.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// The status class of `status` as a label value.
pub(crate) fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_and_statuses_fold_into_few_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").expect("a method")),
            "_OTHER"
        );
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
