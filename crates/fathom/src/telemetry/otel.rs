//! OpenTelemetry traces (the `otel` cargo feature): the tracer provider exporting over
//! OTLP/HTTP, the layer that turns Fathom's `tracing` spans into OpenTelemetry spans, and the
//! W3C Trace Context propagation installed into `fathom_core::trace_context`.
//!
//! Which spans are traced is decided by target, not by the log level, so traces never depend on
//! `log.level` and the log lines never show the database spans: the request span
//! (`fathom_api::middleware`, the server span), the database operations (`fathom::db`) and the
//! outbound calls (`fathom::outbound`).

use std::collections::HashMap;

use fathom_core::trace_context::{Propagation, ServerRequest};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt, TracerProvider as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Span;
use tracing::level_filters::LevelFilter;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::Registry;

use super::otlp_client::ReqwestOnRuntime;
use crate::config::OtelConfig;

/// The exporting side of traces; shut it down to send the spans still in memory.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Exports what is still batched and stops the exporter. The SDK blocks its caller until
    /// the export thread is done, so it runs on a blocking thread, not on a runtime worker.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = done {
            tracing::warn!(%error, "the last traces could not be exported");
        }
    }
}

/// The provider and the layer that feeds it, for the global subscriber.
pub fn start(
    config: &OtelConfig,
) -> anyhow::Result<(Traces, Box<dyn Layer<Registry> + Send + Sync>)> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(ReqwestOnRuntime::new()?);
    // Unset, the exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself.
    if let Some(endpoint) = &config.endpoint {
        exporter = exporter.with_endpoint(endpoint.clone());
    }
    let exporter = exporter.build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sampling_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("fathom");
    let traced = Targets::new()
        .with_target("fathom_api::middleware", LevelFilter::INFO)
        .with_target("fathom::db", LevelFilter::DEBUG)
        .with_target("fathom::outbound", LevelFilter::DEBUG);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_filter(traced)
        .boxed();
    fathom_core::trace_context::install(Box::new(W3cTraceContext));
    Ok((Traces { provider }, layer))
}

/// `traceparent` and `tracestate` in, `traceparent` out.
struct W3cTraceContext;

impl Propagation for W3cTraceContext {
    fn server_span(&self, span: &Span, request: &ServerRequest<'_>) {
        let name = match request.route {
            Some(route) => format!("{} {route}", request.method),
            None => request.method.to_owned(),
        };
        span.record("otel.name", name.as_str());
        span.record("otel.kind", "server");
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers));
        // Fails only when the span is not traced at all, which leaves nothing to link.
        let _ = span.set_parent(parent);
        span.set_attribute("http.request.method", request.method.to_owned());
        if let Some(route) = request.route {
            span.set_attribute("http.route", route.to_owned());
        }
        span.set_attribute("url.path", request.path.to_owned());
        let context = span.context();
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            span.record("trace_id", span_context.trace_id().to_string());
        }
    }

    fn server_status(&self, span: &Span, status: u16) {
        span.set_attribute("http.response.status_code", i64::from(status));
        // The HTTP conventions: a 4xx is the client's error, so only a 5xx marks a server span.
        if status >= 500 {
            span.set_status(Status::error(""));
        }
    }

    fn traceparent(&self, span: &Span) -> Option<String> {
        let mut headers = HashMap::new();
        TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
        headers.remove("traceparent")
    }
}
