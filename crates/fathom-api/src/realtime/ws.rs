//! `GET /api/v1/realtime/ws`: the realtime protocol over WebSocket, one JSON text frame per
//! message. The upgrade checks `Origin` (a browser page may connect only from an origin
//! `server.cors_origins` allows, or the server's own); the first message must be `auth` (a token
//! or none, the resume point, the first subscriptions) and arrive within
//! `realtime.auth_timeout`. Every bad frame (binary, oversized, malformed) is answered with an
//! `error` frame and the connection goes on; pings keep proxies from closing an idle socket.

use std::sync::Arc;
use std::task::Poll;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use fathom_core::ErrorCode;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::Realtime;
use super::connection::{Connection, ConnectionSeat, Inbound, open_feed};
use super::credential::Credential;
use super::direct::Outlet;
use super::outgoing::{OutReceiver, Outgoing, Wire, queue};
use super::protocol::{AuthMessage, ClientMessage, Frame, parse_message};
use super::socket::Writer;
use super::sse::OUT_BUFFER;
use super::ws_upgrade::{Socket, Upgrade};
use crate::AppState;
use crate::error::ApiError;

/// The initial read buffer of a socket; it grows when a message needs more.
const IO_BUFFER: usize = 4 * 1024;

/// What tungstenite buffers before it writes without being flushed (it writes only the frames
/// sent one by one: pings, pongs, the close; the connection's frames go out pre-framed).
const WRITE_THRESHOLD: usize = 16 * 1024;

/// Client messages a connection buffers before its loop takes them.
const IN_BUFFER: usize = 16;

/// Frames written to the socket before one flush, at most: what is queued goes out in one write.
const WRITE_BATCH: usize = 64;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<Upgrade, ApiError>,
) -> Result<Response, ApiError> {
    super::admit(&state)?;
    let upgrade = upgrade?;
    if !origin_allowed(&headers, &state.config.cors_origins) {
        return Err(ApiError::new(
            ErrorCode::OriginNotAllowed,
            "This page's origin may not open realtime connections.",
            "Add the origin to server.cors_origins, or connect from the server's own origin.",
        ));
    }
    // Oversized messages are read (up to a hard bound) so that they can be answered with an
    // error frame instead of a dropped connection.
    let hard_limit = (state.realtime.settings.max_message_bytes * 4).max(1024 * 1024);
    // Small buffers (tungstenite allocates 128 KiB for reading up front): most connections are
    // idle most of the time, and their memory is what bounds how many a node holds.
    let config = WebSocketConfig::default()
        .read_buffer_size(IO_BUFFER)
        .write_buffer_size(WRITE_THRESHOLD)
        .max_message_size(Some(hard_limit))
        .max_frame_size(Some(hard_limit));
    let realtime = Arc::clone(&state.realtime);
    let (response, connection) =
        upgrade.accept(config, move |socket, writer| session(state, socket, writer));
    // The socket is served on the realtime threads.
    realtime.spawn(connection);
    Ok(response)
}

/// Whether a browser at `Origin` may connect: no `Origin` (not a browser), an allowed origin,
/// or the server's own (the origin's authority is the `Host` asked for).
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

fn message(frame: &Frame) -> Message {
    Message::Text(Utf8Bytes::from(frame.text().into_owned()))
}

async fn send(socket: &mut Socket, frame: &Frame) -> bool {
    socket.send(message(frame)).await.is_ok()
}

/// Writes `first` and the items already queued behind it (up to [`WRITE_BATCH`] items) in one
/// socket write: a shared run as the bytes every connection sends, a frame of this connection's
/// own framed here. A `Park` marker hands the connection to a direct writer once what was queued
/// before it is written. Whether the connection goes on (not after its last frame, nor when the
/// socket failed).
async fn write_queued(
    socket: &mut Socket,
    writer: &Writer,
    realtime: &Realtime,
    first: Outgoing,
    frames: &mut OutReceiver,
) -> bool {
    let mut wire = Wire::default();
    let mut next = Some(first);
    let mut taken = 0;
    while let Some(item) = next.take() {
        match item {
            Outgoing::Frame(frame) if frame.is_last() => {
                if write(socket, writer, wire).await {
                    close(socket, &frame).await;
                }
                return false;
            }
            Outgoing::Frame(frame) => wire.frame(&frame),
            Outgoing::Run(run) => wire.shared(run.ws()),
            Outgoing::Park(seat, generation) => {
                if !write(socket, writer, std::mem::take(&mut wire)).await {
                    return false;
                }
                realtime.admit(seat, generation);
            }
        }
        taken += 1;
        if taken < WRITE_BATCH {
            next = frames.try_recv();
        }
    }
    write(socket, writer, wire).await
}

/// Writes `wire` through the socket's writer, after what tungstenite holds (a pong it owes),
/// and waits until the socket has taken it: every write goes through the one writer, whole and
/// in turn, so frames never interleave. Whether the socket took it all.
async fn write(socket: &mut Socket, writer: &Writer, wire: Wire) -> bool {
    if wire.bytes().is_empty() {
        return true;
    }
    if socket.flush().await.is_err() {
        return false;
    }
    wire.write_to(writer).is_ok() && writer.drain().await.is_ok()
}

/// Sends the last frame and closes.
async fn close(socket: &mut Socket, frame: &Frame) {
    if send(socket, frame).await {
        let reason = frame.body["code"].as_str().unwrap_or("closing").to_owned();
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: Utf8Bytes::from(reason),
            })))
            .await;
    }
}

/// Reads one client frame into a message or a problem; `None` when the socket closed.
async fn read(socket: &mut Socket, max_bytes: usize) -> Option<Result<ClientMessage, ApiError>> {
    loop {
        let message = match socket.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
            Some(Ok(message)) => message,
        };
        return Some(match message {
            Message::Text(text) => parse_message(text.as_str(), max_bytes),
            Message::Binary(_) => Err(ApiError::new(
                ErrorCode::UnsupportedFrame,
                "Binary frames are not part of the realtime protocol.",
                "Send each message as a JSON text frame.",
            )),
            // Pings are answered by the WebSocket layer itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Close(_) => return None,
        });
    }
}

/// Waits for the `auth` message, answering anything else with an error frame.
async fn first_message(socket: &mut Socket, max_bytes: usize) -> Option<AuthMessage> {
    loop {
        let error = match read(socket, max_bytes).await? {
            Ok(ClientMessage::Auth(auth)) => return Some(auth),
            Ok(_) => ApiError::new(
                ErrorCode::Unauthorized,
                "The first message of a realtime connection must be `auth`.",
                r#"Send {"type":"auth","token":"<access token or API key>"} first (without `token` for an anonymous connection)."#,
            ),
            Err(error) => error,
        };
        if !send(socket, &Frame::error(&error, None)).await {
            return None;
        }
    }
}

async fn session(state: AppState, mut socket: Socket, writer: Arc<Writer>) {
    let settings = state.realtime.settings.clone();
    let auth = match tokio::time::timeout(
        settings.auth_timeout,
        first_message(&mut socket, settings.max_message_bytes),
    )
    .await
    {
        Ok(Some(auth)) => auth,
        Ok(None) => return,
        Err(_) => {
            let error = ApiError::new(
                ErrorCode::Unauthorized,
                "No `auth` message arrived in time.",
                "Send the `auth` message as soon as the socket opens.",
            );
            return close(&mut socket, &Frame::closing(&error, None)).await;
        }
    };
    if auth.resume.is_some_and(|r| r < 0) {
        let error =
            super::protocol::invalid("`resume` must be a sequence: a whole number of 0 or more.");
        return close(&mut socket, &Frame::closing(&error, None)).await;
    }
    let credential = Credential::from_token(auth.token);
    let principal = match credential.principal(&state).await {
        Ok(principal) => principal,
        Err(error) => return close(&mut socket, &Frame::closing(&error, None)).await,
    };
    let feed = match open_feed(&state, auth.resume).await {
        Ok(feed) => feed,
        Err(error) => return close(&mut socket, &Frame::closing(&error, None)).await,
    };
    let (out, mut frames) = queue(OUT_BUFFER);
    let (inbound, messages) = mpsc::channel(IN_BUFFER);
    let seat = ConnectionSeat::new(Arc::clone(&writer) as Arc<dyn Outlet>);
    let connection = Connection::new(state.clone(), credential, principal, feed, out, Some(seat));
    let (initial, problems) = connection.check_all(&auth.subscriptions);
    let resuming = auth.resume.is_some();
    // The connection loop runs in this task, polled first: what it queues for a batch is
    // written in the same wake-up, without handing it to another task.
    let mut running = std::pin::pin!(connection.run(initial, problems, resuming, Some(messages)));
    let mut ended = false;
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    loop {
        let queued = std::future::poll_fn(|cx| {
            if !ended && running.as_mut().poll(cx).is_ready() {
                ended = true;
            }
            // Taken without `recv`, so the queue never holds this task's waker: the loop's
            // sends do not wake the task that is polling it (a second, empty poll per batch).
            // Once the loop has ended, its last frames are written, then the task ends.
            match frames.try_recv() {
                Some(item) => Poll::Ready(Some(item)),
                None if ended => Poll::Ready(None),
                None => Poll::Pending,
            }
        });
        tokio::select! {
            biased;
            item = queued => match item {
                Some(item) => {
                    if !write_queued(&mut socket, &writer, &state.realtime, item, &mut frames).await {
                        return;
                    }
                }
                None => return,
            },
            // What a direct writer left pending (the socket did not take it at once).
            drained = writer.drain_when_pending() => {
                if drained.is_err() {
                    return;
                }
            }
            message = read(&mut socket, settings.max_message_bytes) => {
                let inbound_message = match message {
                    None => return,
                    Some(Ok(message)) => Inbound::Message(message),
                    Some(Err(error)) => Inbound::Problem(error),
                };
                // Never wait on the connection loop here: it may be waiting for this loop to
                // write its frames. A client that outruns its loop is told so.
                match inbound.try_send(inbound_message) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let error = ApiError::new(
                            ErrorCode::TooManyRequests,
                            "Messages arrive faster than this connection handles them; this one was dropped.",
                            "Wait for the answer to a message before sending many more.",
                        );
                        if !send(&mut socket, &Frame::error(&error, None)).await {
                            return;
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            _ = heartbeat.tick() => {
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
        }
    }
}
