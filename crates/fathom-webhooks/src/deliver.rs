//! One delivery attempt: the signed POST, its outcome, and what the attempt log keeps of it
//! (status, duration, the first KiB of the response). 2xx is success; anything else, a
//! timeout or a refused connection is a failure; redirects are not followed (a 3xx is a
//! failure, as the Standard Webhooks specification asks); `410 Gone` disables the endpoint;
//! `429` and `503` may say when to come back (`Retry-After`).

use std::time::{Duration, Instant};

use fathom_core::outbound::retry_after;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::signing::signature_header;

/// How much of a response body the attempt log keeps.
pub const RESPONSE_KEEP: usize = 1024;

/// What one attempt gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the attempt started (ms since the Unix epoch): the attempt log's `at_ms`.
    pub started_at_ms: i64,
    pub status: Option<u16>,
    pub duration: Duration,
    /// The first KiB of the response body (lossy UTF-8).
    pub response: String,
    /// Why no status came (timeout, refused, blocked), in words for the log.
    pub error: Option<String>,
    /// The `Retry-After` of a 429 or 503.
    pub retry_after: Option<Duration>,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }
}

/// The message to send: id (the event id, the receiver's idempotency key), timestamp, body.
pub struct Message<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub body: &'a [u8],
}

/// Sends `message` to `url`, signed with every key in `keys`, inside a client span that
/// follows the OpenTelemetry HTTP conventions (a `debug` span of the target `fathom::outbound`,
/// enabled by the binary's OpenTelemetry layer); when tracing is on, the receiver gets that span
/// as its parent in `traceparent`.
pub async fn attempt(
    client: &reqwest::Client,
    url: &url::Url,
    keys: &[&[u8]],
    message: &Message<'_>,
) -> Outcome {
    let span = tracing::debug_span!(
        target: "fathom::outbound",
        "webhook delivery",
        otel.name = "POST",
        otel.kind = "client",
        http.request.method = "POST",
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default().unwrap_or_default(),
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let traceparent = fathom_core::trace_context::installed().and_then(|p| p.traceparent(&span));
    let outcome = send(client, url, keys, message, traceparent.as_deref())
        .instrument(span.clone())
        .await;
    match outcome.status {
        Some(status) => {
            span.record("http.response.status_code", status);
            if status >= 400 {
                span.record("otel.status_code", "ERROR");
            }
        }
        None => {
            span.record("otel.status_code", "ERROR");
        }
    }
    outcome
}

async fn send(
    client: &reqwest::Client,
    url: &url::Url,
    keys: &[&[u8]],
    message: &Message<'_>,
    traceparent: Option<&str>,
) -> Outcome {
    let started = Instant::now();
    let started_at_ms = crate::now_ms();
    let signature = signature_header(
        keys.iter().copied(),
        message.id,
        message.timestamp,
        message.body,
    );
    let mut request = client.post(url.clone());
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let sent = request
        .header("content-type", "application/json")
        .header("user-agent", "Fathom-Webhooks/1")
        .header("webhook-id", message.id)
        .header("webhook-timestamp", message.timestamp.to_string())
        .header("webhook-signature", signature)
        .body(message.body.to_vec())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            return Outcome {
                started_at_ms,
                status: None,
                duration: started.elapsed(),
                response: String::new(),
                error: Some(describe(&e)),
                retry_after: None,
            };
        }
    };
    let status = response.status().as_u16();
    let retry_after = matches!(status, 429 | 503)
        .then(|| response.headers().get("retry-after").cloned())
        .flatten()
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .and_then(|v| retry_after(&v, OffsetDateTime::now_utc()));
    let (response_text, error) = read_prefix(response).await;
    Outcome {
        started_at_ms,
        status: Some(status),
        duration: started.elapsed(),
        response: response_text,
        error,
        retry_after,
    }
}

/// Reads at most [`RESPONSE_KEEP`] bytes of the body (the rest is not read).
async fn read_prefix(mut response: reqwest::Response) -> (String, Option<String>) {
    let mut kept = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = RESPONSE_KEEP - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if kept.len() >= RESPONSE_KEEP {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return (lossy(&kept), Some(describe(&e))),
        }
    }
    (lossy(&kept), None)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A transport error in words, without the URL (which the log has already).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
