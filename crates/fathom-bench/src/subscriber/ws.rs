//! The WebSocket side of a bench subscriber: a TCP connection from a chosen local address, the
//! upgrade to `/api/v1/realtime/ws`, the `auth` message carrying the token and the subscription,
//! then the text of each frame. Pings are answered by tungstenite while reading.

use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::Target;
use super::frame::{self, Frame};

pub struct WsStream {
    socket: WebSocketStream<TcpStream>,
}

/// A TCP connection to `address` from `local` (any free port), without Nagle's delay.
pub async fn tcp_from(local: IpAddr, address: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = match local {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .context("creating a socket")?;
    socket
        .bind(SocketAddr::new(local, 0))
        .with_context(|| format!("binding a local port on {local}"))?;
    let stream = socket
        .connect(address)
        .await
        .with_context(|| format!("connecting from {local} to {address}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    Ok(stream)
}

pub async fn open(target: &Target, local: IpAddr) -> anyhow::Result<WsStream> {
    let stream = tcp_from(local, target.address).await?;
    let url = format!("ws://{}/api/v1/realtime/ws", target.address);
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream)
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
                Some(Ok(Message::Text(text))) => return Ok(Some(frame::read(text.as_str()))),
                Some(Ok(Message::Binary(_))) => bail!("the server sent a binary frame"),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("reading the WebSocket"),
            }
        }
    }
}
