//! The WebSocket side of a bench subscriber: a TCP connection from a chosen local address, the
//! upgrade to `/api/v1/realtime/ws`, the `auth` message carrying the token and the subscription,
//! then the text of each frame. Pings are answered by tungstenite while reading.

use std::net::IpAddr;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Target;
use super::frame::{self, Frame};

pub struct WsStream {
    socket: WebSocketStream<TcpStream>,
}

/// The bytes a subscriber reads at most per read: tungstenite's default (128 KiB) zero-fills
/// its whole spare capacity before every read and reallocates it whenever a message read before
/// still holds part of it, which at 10,000 subscribers cost the machine more CPU (the kernel
/// clearing fresh pages) than reading the events did. 16 KiB holds a few dozen event frames.
const READ_BUFFER: usize = 16 * 1024;

fn config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

pub async fn open(target: &Target, local: IpAddr) -> anyhow::Result<WsStream> {
    let stream = super::tcp_from(local, target.address).await?;
    let url = format!("ws://{}/api/v1/realtime/ws", target.address);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config()))
        .await
        .context("upgrading to WebSocket")?;
    let auth = serde_json::json!({
        "type": "auth",
        "token": &*target.token,
        "subscriptions": target.subscriptions(),
    });
    socket
        .send(Message::Text(auth.to_string().into()))
        .await
        .context("sending the auth message")?;
    Ok(WsStream { socket })
}

impl WsStream {
    /// The next frame, read from the message's own buffer.
    pub async fn next(&mut self) -> anyhow::Result<Option<Frame>> {
        loop {
            match self.socket.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(text))) => return Ok(Some(frame::read(text.as_bytes()))),
                Some(Ok(Message::Binary(_))) => bail!("the server sent a binary frame"),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("reading the WebSocket"),
            }
        }
    }
}
