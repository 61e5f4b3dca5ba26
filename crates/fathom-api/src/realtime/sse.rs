//! `GET /api/v1/realtime`: the realtime protocol over Server-Sent Events. The subscriptions are
//! the `subscriptions` parameter (a JSON array of subscribe requests), fixed for the stream, so a
//! reconnect to the same URL resumes exactly: every frame carrying a position has it as its `id:`,
//! which browsers send back as `Last-Event-ID` (the `resume` parameter does the same where the
//! header cannot be set). Credentials: `Authorization: Bearer` (an access token or API key), or a
//! single-use `ticket` for browsers; none is an anonymous stream. Problems found before the
//! stream begins are ordinary problem+json answers; after, they are `error`/`closing` frames.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use fathom_core::ErrorCode;
use futures_util::stream;
use tokio::time::MissedTickBehavior;

use super::connection::{Connection, open_feed};
use super::credential::Credential;
use super::outgoing::{OutReceiver, queue, sse_chunk};
use super::protocol::{SubscribeRequest, too_large};
use crate::AppState;
use crate::auth::bearer_in;
use crate::error::ApiError;
use crate::records::params::invalid;

/// Frames a stream buffers between its connection loop and the socket (items are taken up to
/// this many at a time too).
pub const OUT_BUFFER: usize = 64;

const PARAMETERS: [&str; 3] = ["subscriptions", "ticket", "resume"];

pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    super::admit(&state)?;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    for (key, _) in &pairs {
        if !PARAMETERS.contains(&key.as_str()) || pairs.iter().filter(|(k, _)| k == key).count() > 1
        {
            let shown: String = key.chars().take(64).collect();
            return Err(invalid(
                key,
                format!("`{shown}` is not a parameter of this endpoint, or is given twice."),
                format!(
                    "This endpoint takes each of: {}, once.",
                    PARAMETERS.join(", ")
                ),
            ));
        }
    }
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let settings = &state.realtime.settings;
    let requests: Vec<SubscribeRequest> = match get("subscriptions") {
        None => Vec::new(),
        Some(text) if text.len() > settings.max_message_bytes => {
            return Err(too_large(text.len(), settings.max_message_bytes));
        }
        Some(text) => serde_json::from_str(text).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidMessage,
                format!("`subscriptions` is not a JSON array of subscriptions: {e}."),
                r#"Pass for example subscriptions=[{"id":"todos","collection":"todos","filter":"done = false"}], URL-encoded."#,
            )
        })?,
    };
    let credential = match (bearer_in(&headers)?, get("ticket")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "ticket",
                "Both an Authorization header and a ticket were sent.".into(),
                "Send one of them.".into(),
            ));
        }
        (Some(token), None) => Credential::Token(token.to_owned()),
        (None, Some(ticket)) => state.realtime.tickets.redeem(ticket)?,
        (None, None) => Credential::Anonymous,
    };
    let resume = resume_point(&headers, get("resume"))?;
    let principal = credential.principal(&state).await?;
    let feed = open_feed(&state, resume).await?;
    let (out, frames) = queue(OUT_BUFFER);
    let connection = Connection::new(state.clone(), credential, principal, feed, out, None);
    let (initial, problems) = connection.check_all(&requests);
    if let Some((error, id)) = problems.into_iter().next() {
        return Err(error.with_field(
            &format!("subscriptions.{id}"),
            "invalid_subscription",
            "This subscription was refused.",
        ));
    }
    state
        .realtime
        .spawn(connection.run(initial, Vec::new(), resume.is_some(), None));
    let mut response = Response::new(body(frames, settings.heartbeat));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies such as nginx buffer responses unless told not to.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The stream's body: the frames queued when it is polled as one chunk (one socket write),
/// and a comment at a heartbeat tick when nothing was sent since the tick before, which keeps
/// proxies from closing a quiet stream. The ticks are one timer for the stream's life (a timer
/// per chunk cost every connection a timer-wheel insertion and removal per write).
fn body(frames: OutReceiver, heartbeat: Duration) -> Body {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let state = (frames, ticks, false);
    let chunks = stream::unfold(state, |(mut frames, mut ticks, mut sent)| async move {
        let mut run = Vec::new();
        let chunk = loop {
            tokio::select! {
                biased;
                taken = frames.recv_many(&mut run, OUT_BUFFER) => match taken {
                    0 => return None,
                    _ => {
                        sent = true;
                        break sse_chunk(&run);
                    }
                },
                _ = ticks.tick() => {
                    if !std::mem::take(&mut sent) {
                        break Bytes::from_static(b":\n\n");
                    }
                }
            }
        };
        Some((Ok::<_, Infallible>(chunk), (frames, ticks, sent)))
    });
    Body::from_stream(chunks)
}

/// The resume point: `Last-Event-ID` or `resume` (both only if they agree).
fn resume_point(headers: &HeaderMap, parameter: Option<&str>) -> Result<Option<i64>, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("?").trim().to_owned());
    let parse = |text: &str| {
        text.parse::<i64>().ok().filter(|s| *s >= 0).ok_or_else(|| {
            let shown: String = text.chars().take(32).collect();
            invalid(
                "resume",
                format!("The resume point \"{shown}\" is not a sequence."),
                "Use the `id` of the last frame received (a whole number of 0 or more).".into(),
            )
        })
    };
    match (header.as_deref(), parameter) {
        (None, None) => Ok(None),
        (Some(text), None) | (None, Some(text)) => parse(text).map(Some),
        (Some(a), Some(b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if a == b {
                Ok(Some(a))
            } else {
                Err(invalid(
                    "resume",
                    "`Last-Event-ID` and `resume` name different sequences.".into(),
                    "Send one of them.".into(),
                ))
            }
        }
    }
}
