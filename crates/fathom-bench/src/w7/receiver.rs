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
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let inbox = Inbox::default();
        let app = Router::new()
            .route("/hook/{n}", post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, inbox })
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
