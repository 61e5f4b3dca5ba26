//! The seam between Fathom's `tracing` spans and distributed tracing (W3C Trace Context). The
//! crates that open a request's server span (`fathom-api`) or an outbound call's client span
//! (`fathom-webhooks`) call the [`Propagation`] installed here; the binary installs one when it is
//! built with its `otel` feature and `[otel]` is on. Without one, every function here does
//! nothing, so the crates below the binary carry no OpenTelemetry dependency at all.
//!
//! It is a process-wide setting, like the `tracing` subscriber it works with: both are installed
//! once, by `fathom serve`, before the server starts.

use std::sync::OnceLock;

use tracing::Span;

/// What a request's server span is told about the request.
pub struct ServerRequest<'a> {
    /// The HTTP method (`GET`).
    pub method: &'a str,
    /// The route template (`/api/v1/collections/{collection}/records`), never the raw path;
    /// `None` when no route matched.
    pub route: Option<&'a str>,
    /// The request's path, without the query string.
    pub path: &'a str,
    /// The request's headers, where `traceparent` and `tracestate` are read.
    pub headers: &'a http::HeaderMap,
}

/// Turns Fathom's spans into distributed-tracing spans. Implemented by the binary's telemetry.
pub trait Propagation: Send + Sync + 'static {
    /// Makes `span` the server span of a request: its name and attributes follow the
    /// OpenTelemetry HTTP conventions, and the caller's span (`traceparent`) becomes its parent.
    fn server_span(&self, span: &Span, request: &ServerRequest<'_>);
    /// Records the response's status on the server span (and marks a 5xx as an error).
    fn server_status(&self, span: &Span, status: u16);
    /// The `traceparent` header value that makes `span` (an outbound call's client span) the
    /// parent of the receiver's spans; `None` when `span` is not traced.
    fn traceparent(&self, span: &Span) -> Option<String>;
}

static INSTALLED: OnceLock<Box<dyn Propagation>> = OnceLock::new();

/// Installs the process's propagation; `false` (and nothing changes) if one already is.
pub fn install(propagation: Box<dyn Propagation>) -> bool {
    INSTALLED.set(propagation).is_ok()
}

/// The installed propagation, if any: `None` means distributed tracing is off.
pub fn installed() -> Option<&'static dyn Propagation> {
    INSTALLED.get().map(AsRef::as_ref)
}
