//! Cross-cutting request handling, applied in one place: request id and logging, panic recovery,
//! the request timeout (and the longer wait for a write's outcome), the body limit, security
//! headers and CORS.
//!
//! The request id, log line, timeout and security headers share one middleware
//! ([`request_context`]): each `from_fn` or header layer costs every request a boxed-service
//! clone and a pass over the headers, which showed in profiles of record reads.

use std::cell::Cell;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self as axum_middleware, Next};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use crate::config::RequestLog;
use crate::error::{ApiError, InternalCause};
use crate::metrics::{HttpLabels, Metrics, method_label, status_class};
use crate::{AppState, HttpConfig, request_id};

/// Applies every layer to the application. The request context is outermost, so everything
/// inside it (panics, timeouts, fallbacks) answers with the request id and the security headers,
/// and is measured (when `metrics` are on).
pub fn wrap(app: Router, config: &HttpConfig, metrics: Option<Arc<Metrics>>) -> Router {
    let mut app = app;
    // No configured origin: no CORS layer and no CORS headers, so browsers deny cross-origin calls.
    if !config.cors_origins.is_empty() {
        app = app.layer(cors(config));
    }
    let policy = RequestPolicy {
        limits: TimeLimits {
            request: config.request_timeout,
            write: config.write_timeout.max(config.request_timeout),
        },
        hsts: config.hsts,
        metrics,
        request_log: config.request_log,
        requests: Arc::default(),
    };
    app.layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum_middleware::from_fn(crate::request_head::check))
        .layer(axum_middleware::from_fn_with_state(policy, request_context))
}

/// What [`request_context`] applies to every request.
#[derive(Clone)]
struct RequestPolicy {
    limits: TimeLimits,
    /// Send `Strict-Transport-Security` (only behind TLS).
    hsts: bool,
    /// Where request durations and requests in flight are recorded, when metrics are on.
    metrics: Option<Arc<Metrics>>,
    /// Which requests get a log line.
    request_log: RequestLog,
    /// Requests seen, for sampling the log lines.
    requests: Arc<AtomicU64>,
}

/// Headers on every response, unless the handler set its own value.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (header::CACHE_CONTROL, "no-store"),
];

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Assigns the request id, runs the request inside its log span and task-local scope under the
/// time limit, echoes the id, adds the security headers, and writes one log line per request
/// (with the internal cause of a 5xx, logged only here).
async fn request_context(
    State(policy): State<RequestPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let id = request_id::accept_or_generate(request.headers().get(request_id::HEADER));
    // Log and measure the route template rather than the raw path, and never the query string:
    // either may carry values that do not belong in logs or labels.
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let route = matched.unwrap_or("unmatched").to_owned();
    let method = method_label(request.method());
    // The `otel.*` and `trace_id` fields stay empty (and out of the log lines) unless distributed
    // tracing is on: then the installed propagation fills them in (`fathom_core::trace_context`).
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = %route,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let propagation = fathom_core::trace_context::installed();
    if let Some(propagation) = propagation {
        propagation.server_span(
            &span,
            &fathom_core::trace_context::ServerRequest {
                method: request.method().as_str(),
                route: matched,
                path: request.uri().path(),
                headers: request.headers(),
            },
        );
    }
    let started = Instant::now();
    let in_flight = policy.metrics.as_ref().map(Metrics::in_flight);
    let limited = within(policy.limits, next.run(request));
    let mut response = request_id::scope(id.clone(), limited)
        .instrument(span.clone())
        .await;
    drop(in_flight);
    let status = response.status().as_u16();
    if let Some(propagation) = propagation {
        propagation.server_status(&span, status);
    }
    let elapsed = started.elapsed();
    if let Some(metrics) = &policy.metrics {
        let labels = HttpLabels {
            http_request_method: method,
            http_route: route,
            http_response_status_class: status_class(status),
        };
        metrics.observe(&labels, elapsed);
    }
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    let cause = response.extensions_mut().remove::<InternalCause>();
    let timed_out = response.extensions_mut().remove::<TimedOut>();
    let n = policy.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if policy.request_log.logs(n, status, timed_out.is_some()) {
        span.in_scope(|| {
            if let Some(InternalCause(cause)) = cause {
                tracing::error!(status, elapsed_ms, cause = %cause, "request failed");
            } else if let Some(TimedOut(what)) = timed_out {
                // Slow, not broken: an operator should notice, but it is no server fault to page on.
                tracing::warn!(status, elapsed_ms, "{what}");
            } else {
                tracing::info!(status, elapsed_ms, "request completed");
            }
        });
    }
    let headers = response.headers_mut();
    headers.reserve(SECURITY_HEADERS.len() + 2);
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if policy.hsts {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(HSTS));
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static(request_id::HEADER), value);
    }
    response
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic payload");
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// The time limits of a request: `request` for any request, `write` (never shorter) for one
/// whose write has been handed to the database.
#[derive(Clone, Copy)]
struct TimeLimits {
    request: Duration,
    write: Duration,
}

/// Marks a time-limit response for the log line (a warning, with this message).
#[derive(Clone, Copy)]
struct TimedOut(&'static str);

tokio::task_local! {
    /// Whether the current request has handed a write to the database (see [`write_handed_over`]).
    static WRITE_HANDED_OVER: Cell<bool>;
}

/// Records that the current request is about to hand a write to the database. From then on,
/// cutting the request short at its time limit could hide a committed write behind a "retry"
/// answer (and a retried create would then make a duplicate), so the request is given the
/// longer write limit to learn the outcome instead. Outside a request it does nothing.
pub(crate) fn write_handed_over() {
    let _ = WRITE_HANDED_OVER.try_with(|handed| handed.set(true));
}

/// `response`, or once `limits.request` has passed: 503 `request_timeout` if no record write has
/// been handed to the database (none was changed, so a retry is safe), else the same response if
/// it arrives by `limits.write`, else 504 `write_outcome_unknown`. (Writes of the auth and admin
/// endpoints do not raise the flag yet: their time-limit answer is still the 503.)
async fn within(limits: TimeLimits, response: impl Future<Output = Response>) -> Response {
    WRITE_HANDED_OVER
        .scope(Cell::new(false), async move {
            let mut response = pin!(response);
            if let Ok(response) = tokio::time::timeout(limits.request, &mut response).await {
                return response;
            }
            if !WRITE_HANDED_OVER.with(Cell::get) {
                return time_limit_response(
                    ApiError::new(
                        ErrorCode::RequestTimeout,
                        format!(
                            "The request did not complete within {} ms.",
                            limits.request.as_millis()
                        ),
                        "Retry later, or narrow the request (a smaller page, fewer records).",
                    ),
                    "request timed out",
                );
            }
            let rest = limits.write.saturating_sub(limits.request);
            match tokio::time::timeout(rest, response).await {
                Ok(response) => response,
                Err(_) => time_limit_response(
                    ApiError::new(
                        ErrorCode::WriteOutcomeUnknown,
                        format!(
                            "The write reached the database, but its outcome did not arrive within {} ms: it may or may not have been applied.",
                            limits.write.as_millis()
                        ),
                        "Read before you retry: GET the record by its id (send your own `id` on create to know it in advance), or list the collection. Retry only what is missing.",
                    ),
                    "write outcome unknown at the time limit",
                ),
            }
        })
        .await
}

fn time_limit_response(error: ApiError, log: &'static str) -> Response {
    let mut response = error.into_response();
    response.extensions_mut().insert(TimedOut(log));
    response
}

fn cors(config: &HttpConfig) -> CorsLayer {
    let origins = &config.cors_origins;
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([
            header::LOCATION,
            header::ETAG,
            HeaderName::from_static(request_id::HEADER),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Answers 503 `not_ready` on the records API until the database holds our schema.
pub async fn require_migrated(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match state.migration_verdict().await {
        Ok(true) => next.run(request).await,
        // The database is down or busy: say so (503 `service_unavailable`), not "not migrated".
        Err(e) => ApiError::from(e).into_response(),
        Ok(false) => ApiError::new(
            ErrorCode::NotReady,
            "The database schema does not match this server's schema file yet.",
            "Run `fathom migrate plan`, then `fathom migrate apply`; the server becomes ready by itself.",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret internal detail")
    }

    /// The production middleware stack around test routes that panic or stall.
    fn app(config: &HttpConfig) -> Router {
        let routes = Router::new()
            .route("/boom", get(boom))
            .route(
                "/slow",
                get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
            )
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/write/{millis}",
                get(
                    |axum::extract::Path(millis): axum::extract::Path<u64>| async move {
                        write_handed_over();
                        tokio::time::sleep(Duration::from_millis(millis)).await;
                        "written"
                    },
                ),
            );
        wrap(routes, config, None)
    }

    async fn call(
        app: Router,
        path: &str,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = app
            .oneshot(
                Request::builder()
                    .uri(path)
                    .header("x-request-id", "req-1")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    #[tokio::test]
    async fn a_panic_becomes_a_500_problem_without_detail_and_the_app_keeps_serving() {
        let app = app(&HttpConfig::default());
        let (status, headers, body) = call(app.clone(), "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(headers["x-request-id"], "req-1");
        assert_eq!(body["code"], "internal_error");
        assert_eq!(body["requestId"], "req-1");
        assert!(
            !body.to_string().contains("secret"),
            "the panic message must not leak: {body}"
        );
        let (status, _, _) = call(app, "/ok").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_over_the_time_limit_is_answered_503_request_timeout() {
        let config = HttpConfig {
            request_timeout: Duration::from_millis(100),
            ..HttpConfig::default()
        };
        let (status, headers, body) = call(app(&config), "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(body["code"], "request_timeout");
        assert_eq!(body["requestId"], "req-1");
    }

    fn limits(request_ms: u64, write_ms: u64) -> HttpConfig {
        HttpConfig {
            request_timeout: Duration::from_millis(request_ms),
            write_timeout: Duration::from_millis(write_ms),
            ..HttpConfig::default()
        }
    }

    #[tokio::test]
    async fn a_write_handed_to_the_database_is_waited_for_past_the_request_limit() {
        let (status, _, _) = call(app(&limits(100, 2_000)), "/write/400").await;
        assert_eq!(status, StatusCode::OK, "the handler's own answer arrives");
    }

    #[tokio::test]
    async fn a_write_past_the_write_limit_is_504_write_outcome_unknown() {
        let (status, headers, body) = call(app(&limits(100, 300)), "/write/5000").await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["code"], "write_outcome_unknown");
        assert!(
            body["hint"].as_str().is_some_and(|h| h.contains("GET")),
            "the hint says to read before retrying: {body}"
        );
        // A write limit shorter than the request limit counts as the request limit.
        let (status, _, body) = call(app(&limits(100, 10)), "/write/5000").await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    }

    /// Log lines written while `run` runs on this thread, as JSON objects.
    async fn logged<F: Future>(run: F) -> Vec<serde_json::Value> {
        #[derive(Clone, Default)]
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        {
            let _guard = tracing::subscriber::set_default(subscriber);
            run.await;
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A time limit is the client's or the database's slowness, not a server fault: a warning,
    /// never an error (which would page someone) nor a plain info line (which would hide it).
    #[tokio::test(flavor = "current_thread")]
    async fn time_limit_answers_are_logged_as_warnings() {
        for (config, path) in [
            (limits(100, 100), "/slow"),
            (limits(100, 300), "/write/5000"),
        ] {
            let lines = logged(call(app(&config), path)).await;
            let levels: Vec<&str> = lines.iter().filter_map(|l| l["level"].as_str()).collect();
            assert_eq!(levels, ["WARN"], "{path}: {lines:?}");
        }
    }
}
