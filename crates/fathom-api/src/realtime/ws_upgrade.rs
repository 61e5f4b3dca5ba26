//! The WebSocket opening handshake of `GET /api/v1/realtime/ws` (RFC 6455 §4.2.1) over HTTP/1.1:
//! the request is checked, answered `101 Switching Protocols`, and the upgraded connection is
//! handed over as a tokio-tungstenite stream over the TCP socket beneath, with the socket's one
//! [`Writer`]. axum's own `WebSocket` does the same but hides its socket; `ws.rs` and the direct
//! writers need it to write a shared run's pre-framed bytes in one write (see
//! `outgoing::SharedRun`), instead of framing every event again for every connection.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use fathom_core::ErrorCode;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::socket::{SocketIo, Writer};
use crate::error::ApiError;

/// An open WebSocket: tungstenite reads it and writes control frames; pre-framed bytes go to
/// the socket's [`Writer`].
pub type Socket = WebSocketStream<SocketIo>;

/// A request that asks for a WebSocket, ready to be accepted.
pub struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// The answer to a request that is not a WebSocket opening handshake.
fn not_an_upgrade() -> ApiError {
    ApiError::new(
        ErrorCode::UpgradeRequired,
        "This endpoint takes WebSocket upgrades only.",
        "Connect with a WebSocket client (GET with `Connection: Upgrade` and `Upgrade: websocket`), or use GET /api/v1/realtime for Server-Sent Events.",
    )
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let headers = &parts.headers;
        let asks = parts.method == Method::GET
            && header_lists(headers, header::CONNECTION, "upgrade")
            && header_is(headers, header::UPGRADE, "websocket")
            && header_is(headers, header::SEC_WEBSOCKET_VERSION, "13");
        let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
        match (asks, key) {
            (true, Some(key)) => {
                let on_upgrade = parts
                    .extensions
                    .remove::<OnUpgrade>()
                    .ok_or_else(not_an_upgrade)?;
                Ok(Self { key, on_upgrade })
            }
            _ => Err(not_an_upgrade()),
        }
    }
}

impl Upgrade {
    /// The `101` answer, and the connection's task: it waits for hyper to hand the connection
    /// over (once the client has the answer), then runs `serve` with the socket and its writer.
    /// The caller spawns the task where the connection is to run.
    pub fn accept<F>(
        self,
        config: WebSocketConfig,
        serve: impl FnOnce(Socket, Arc<Writer>) -> F + Send + 'static,
    ) -> (Response, impl Future<Output = ()> + Send + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        let task = async move {
            // Fails when the client went away before the switch: nothing to serve.
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            // Fathom's server (`fathom::http_server`) serves TCP sockets only.
            let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
                tracing::warn!("a WebSocket upgrade over a connection that is not TCP was dropped");
                return;
            };
            // Registered again with the runtime this task runs on (the realtime threads), so
            // that the socket's readiness wakes these threads, not the request threads.
            let stream = parts
                .io
                .into_inner()
                .into_std()
                .and_then(TcpStream::from_std);
            let Ok(stream) = stream else {
                return;
            };
            let (io, writer) = SocketIo::new(stream);
            // What hyper read past the handshake (the client's first frames) is read first.
            let read = parts.read_buf.to_vec();
            let socket =
                WebSocketStream::from_partially_read(io, read, Role::Server, Some(config)).await;
            serve(socket, writer).await;
        };
        // The key is a header value, and its digest is base64: always a valid header value.
        let accept = HeaderValue::from_str(&derive_accept_key(self.key.as_bytes()))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        (response, task)
    }
}

/// Whether `name` is `value` (ASCII case-insensitive).
fn header_is(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// Whether the comma-separated list `name` holds `token` (ASCII case-insensitive).
fn header_lists(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_lists_are_read_token_by_token() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(header_lists(&headers, header::CONNECTION, "upgrade"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("not-upgrade"));
        assert!(!header_lists(&headers, header::CONNECTION, "upgrade"));
    }

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
