//! `GET /api/v1/realtime`: the realtime protocol over Server-Sent Events. The subscriptions are
//! the `subscriptions` parameter (a JSON array of subscribe requests), fixed for the stream, so a
//! reconnect to the same URL resumes exactly: every frame carrying a position has it as its `id:`,
//! which browsers send back as `Last-Event-ID` (the `resume` parameter does the same where the
//! header cannot be set). Credentials: `Authorization: Bearer` (an access token or API key), or a
//! single-use `ticket` for browsers; none is an anonymous stream. Problems found before the
//! stream begins are ordinary problem+json answers; after, they are `error`/`closing` frames.
//! A stream with nothing of its own to do parks (`direct.rs`): a direct writer then hands its
//! shared runs to its body through its [`SseOutlet`].

use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use fathom_core::ErrorCode;
use futures_util::stream;
use tokio::time::MissedTickBehavior;

use super::Realtime;
use super::connection::{Connection, ConnectionSeat, open_feed};
use super::credential::Credential;
use super::direct::Outlet;
use super::outgoing::{OutReceiver, Outgoing, SharedRun, queue, sse_chunk, sse_runs};
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
    let outlet = Arc::new(SseOutlet::default());
    let seat = ConnectionSeat::new(Arc::clone(&outlet) as Arc<dyn Outlet>);
    let connection = Connection::new(state.clone(), credential, principal, feed, out, Some(seat));
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
    let realtime = Arc::clone(&state.realtime);
    let mut response = Response::new(body(frames, outlet, realtime, settings.heartbeat));
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

/// Where a direct writer hands a parked SSE connection's shared runs: a chunk waiting for the
/// stream's body to take it (the body takes it before anything its loop queued, which is newer).
#[derive(Default)]
pub struct SseOutlet {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    chunk: Option<Bytes>,
    /// The body's task, waiting for a chunk.
    body: Option<Waker>,
}

impl SseOutlet {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // Every update leaves it whole.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The chunk waiting, once there is one.
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Bytes> {
        let mut waiting = self.waiting();
        match waiting.chunk.take() {
            Some(chunk) => Poll::Ready(chunk),
            None => {
                waiting.body = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Outlet for SseOutlet {
    fn is_idle(&self) -> bool {
        self.waiting().chunk.is_none()
    }

    fn send_runs(&self, runs: &[Arc<SharedRun>]) -> io::Result<()> {
        let chunk = sse_runs(runs);
        let body = {
            let mut waiting = self.waiting();
            waiting.chunk = Some(match waiting.chunk.take() {
                None => chunk,
                Some(before) => [before, chunk].concat().into(),
            });
            waiting.body.take()
        };
        if let Some(body) = body {
            body.wake();
        }
        Ok(())
    }
}

/// The stream's body: a chunk a direct writer handed over, else the frames queued when it is
/// polled as one chunk (one socket write), and a comment at a heartbeat tick when nothing was
/// sent since the tick before, which keeps proxies from closing a quiet stream. The ticks are
/// one timer for the stream's life (a timer per chunk cost every connection a timer-wheel
/// insertion and removal per write). A `Park` marker taken from the queue admits the
/// connection to a direct writer once the frames before it are in the chunk being sent.
fn body(
    frames: OutReceiver,
    outlet: Arc<SseOutlet>,
    realtime: Arc<Realtime>,
    heartbeat: Duration,
) -> Body {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let state = (frames, ticks, false);
    let chunks = stream::unfold(state, move |(mut frames, mut ticks, mut sent)| {
        let (outlet, realtime) = (Arc::clone(&outlet), Arc::clone(&realtime));
        async move {
            let chunk = loop {
                let mut run = Vec::new();
                tokio::select! {
                    biased;
                    chunk = std::future::poll_fn(|cx| outlet.poll_take(cx)) => {
                        sent = true;
                        break chunk;
                    }
                    taken = frames.recv_many(&mut run, OUT_BUFFER) => {
                        if taken == 0 {
                            return None;
                        }
                        let chunk = sse_chunk(&run);
                        for item in run {
                            if let Outgoing::Park(seat, generation) = item {
                                realtime.admit(seat, generation);
                            }
                        }
                        if !chunk.is_empty() {
                            sent = true;
                            break chunk;
                        }
                    }
                    _ = ticks.tick() => {
                        if !std::mem::take(&mut sent) {
                            break Bytes::from_static(b":\n\n");
                        }
                    }
                }
            };
            Some((Ok::<_, Infallible>(chunk), (frames, ticks, sent)))
        }
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
