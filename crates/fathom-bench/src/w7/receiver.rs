//! The webhook receiver of W7: a small axum server on loopback (the server under test
//! allow-lists 127.0.0.0/8) that answers 204 at once and records into its [`Inbox`], for every
//! message, which endpoint it came for (`/hook/{n}`), its sequence, its commit time (the body's
//! `timestamp`, stamped by the server inside the commit) and when it arrived, on this machine's
//! clock.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use super::phases::{Inbox, Receipt};
use crate::subscriber::{now_micros, timestamp_micros};

pub struct Receiver {
    pub address: SocketAddr,
    pub inbox: Inbox,
    /// Stops the receiver's thread when dropped.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    pub fn start() -> anyhow::Result<Self> {
        let inbox = Inbox::default();
        let app = Router::new()
            .route("/hook/{n}", post(receive))
            .with_state(inbox.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // A thread and runtime of its own, like W5's writer: the receiver answers as soon as
        // the kernel runs it, not after the load generator's tasks in the bench's run queue
        // (a receiver elsewhere on the network would not share them either).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("w7-receiver".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Self {
            address,
            inbox,
            _stop: stop,
        })
    }

    pub fn url(&self, endpoint: usize) -> String {
        format!("http://{}/hook/{endpoint}", self.address)
    }
}

async fn receive(
    State(inbox): State<Inbox>,
    Path(endpoint): Path<usize>,
    body: Bytes,
) -> StatusCode {
    let received_us = now_micros();
    let message: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    inbox.push(Receipt {
        copy: endpoint,
        seq: message["data"]["sequence"].as_i64().unwrap_or(0),
        committed_us: message["timestamp"].as_str().and_then(timestamp_micros),
        received_us,
    });
    StatusCode::NO_CONTENT
}
