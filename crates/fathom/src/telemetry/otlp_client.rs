//! The OTLP exporter's HTTP client: the reqwest the webhooks already use (rustls on ring), so
//! traces add no second HTTP or TLS stack to the binary. The SDK's batch processor exports from
//! a thread of its own, outside the tokio runtime, so every request is spawned onto the
//! runtime the client was made on and awaited through its join handle.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};

/// Longest wait for the collector: an export never holds the batch thread longer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The largest collector answer read (the answer of a traces export is a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ReqwestOnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ReqwestOnRuntime {
    /// A client whose requests run on the current tokio runtime.
    pub fn new() -> anyhow::Result<Self> {
        fathom_webhooks::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

async fn send(
    client: reqwest::Client,
    request: Request<Bytes>,
) -> Result<Response<Bytes>, HttpError> {
    let request = reqwest::Request::try_from(request)?;
    let mut response = client.execute(request).await?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err("the OTLP collector's answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    let mut answer = Response::builder()
        .status(response.status())
        .body(Bytes::from(body))?;
    *answer.headers_mut() = std::mem::take(response.headers_mut());
    Ok(answer)
}

// `HttpClient` is an `async_trait`; this is the signature that macro gives its method.
impl HttpClient for ReqwestOnRuntime {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let task = self.runtime.spawn(send(self.client.clone(), request));
        Box::pin(async move { task.await? })
    }
}
