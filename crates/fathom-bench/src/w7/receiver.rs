//! The webhook receiver of W7: a small axum server on loopback (the server under test
//! allow-lists 127.0.0.0/8) that answers 204 at once and records, for every message, which
//! endpoint it came for (`/hook/{n}`), its sequence, its commit time (the body's `timestamp`,
//! stamped by the server inside the commit) and when it arrived, on this machine's clock.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;

use crate::subscriber::{now_micros, timestamp_micros};

/// One message received.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    pub endpoint: usize,
    pub seq: i64,
    pub committed_us: Option<i64>,
    pub received_us: i64,
}

type Log = Arc<Mutex<Vec<Receipt>>>;

pub struct Receiver {
    pub address: SocketAddr,
    log: Log,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let log: Log = Arc::default();
        let app = Router::new()
            .route("/hook/{n}", post(receive))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, log })
    }

    pub fn url(&self, endpoint: usize) -> String {
        format!("http://{}/hook/{endpoint}", self.address)
    }

    /// Everything received since the last call (the log starts again).
    pub fn take(&self) -> Vec<Receipt> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn count(&self) -> usize {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

async fn receive(State(log): State<Log>, Path(endpoint): Path<usize>, body: Bytes) -> StatusCode {
    let received_us = now_micros();
    let message: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let receipt = Receipt {
        endpoint,
        seq: message["data"]["sequence"].as_i64().unwrap_or(0),
        committed_us: message["timestamp"].as_str().and_then(timestamp_micros),
        received_us,
    };
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(receipt);
    StatusCode::NO_CONTENT
}
