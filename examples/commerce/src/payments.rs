//! The commerce server's client of the payment provider: reqwest with a timeout per call, a
//! circuit breaker ([`fathom_core::outbound::Breaker`]) shared by every call, and retries on
//! the [`Backoff`] schedule. The idempotency key of a charge is the order id, so a retry after a
//! lost answer (a timeout) reports the original charge instead of charging again.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use fathom_core::outbound::{Backoff, Breaker, BreakerState};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// How the client talks to the provider.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// The provider's base URL (`http://127.0.0.1:PORT`).
    pub base_url: String,
    /// How long one call may take before it counts as failed.
    pub timeout: Duration,
    /// Retries after the first attempt, and their waits.
    pub backoff: Backoff,
    /// Consecutive failures that open the breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker refuses calls before letting one probe through.
    pub breaker_cooldown: Duration,
}

impl PaymentSettings {
    /// Settings fit for a provider on this machine: a second per call, three retries.
    pub fn local(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            timeout: Duration::from_millis(1_000),
            backoff: Backoff {
                base: Duration::from_millis(20),
                cap: Duration::from_millis(400),
                retries: 3,
            },
            breaker_threshold: 8,
            breaker_cooldown: Duration::from_millis(250),
        }
    }
}

/// A charge as the provider reports it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    pub id: Uuid,
    pub order: String,
    pub amount_cents: i64,
    pub refunded: bool,
}

/// Why a payment call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The breaker is open: the provider failed too often lately, and no call was made.
    #[error("the payment provider's circuit breaker is open")]
    BreakerOpen,
    /// Every attempt failed (5xx, timeout or connection error); the last failure is named.
    #[error("the payment provider failed {attempts} attempts, the last with {last}")]
    Exhausted { attempts: u32, last: String },
    /// The provider refused the call itself (4xx): retrying cannot help.
    #[error("the payment provider refused the call: {status} {error}")]
    Refused { status: u16, error: String },
}

/// The payment client (one per server; cheap to share behind an `Arc`).
pub struct PaymentClient {
    http: reqwest::Client,
    settings: PaymentSettings,
    breaker: Mutex<Breaker>,
}

/// What one attempt came to.
enum Attempt<T> {
    Done(T),
    /// The provider is up but refused: no retry.
    Refused(u16, String),
    /// A failure worth retrying (and counted by the breaker).
    Failed(String),
}

impl PaymentClient {
    pub fn new(settings: PaymentSettings) -> anyhow::Result<Self> {
        // reqwest is built with rustls and no default provider in this workspace; plain HTTP
        // needs none, but building the client asks for one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .pool_max_idle_per_host(64)
            .build()?;
        let breaker = Breaker::new(settings.breaker_threshold, settings.breaker_cooldown);
        Ok(Self {
            http,
            settings,
            breaker: Mutex::new(breaker),
        })
    }

    /// The breaker's state now (for logs and the figures of a run).
    pub fn breaker_state(&self) -> BreakerState {
        self.lock().state(Instant::now())
    }

    /// Charges `amount_cents` for `order`, with the order id as the idempotency key.
    pub async fn charge(&self, order: Uuid, amount_cents: i64) -> Result<Receipt, PaymentError> {
        let url = format!("{}/charges", self.settings.base_url);
        let body = json!({ "order": order, "amount_cents": amount_cents });
        let key = order.to_string();
        self.with_retries(|| async {
            let sent = self
                .http
                .post(&url)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            classify::<Receipt>(sent).await
        })
        .await
    }

    /// Refunds whatever was charged for `order`; `Ok(false)` when nothing was.
    pub async fn refund(&self, order: Uuid) -> Result<bool, PaymentError> {
        #[derive(Deserialize)]
        struct Refund {
            refunded: bool,
        }
        let url = format!("{}/refunds", self.settings.base_url);
        let body = json!({ "order": order });
        self.with_retries(|| async {
            let sent = self.http.post(&url).json(&body).send().await;
            classify::<Refund>(sent).await
        })
        .await
        .map(|r| r.refunded)
    }

    /// The provider's ledger for `order` (every charge made under any key naming it).
    pub async fn charges_for(&self, order: Uuid) -> Result<Vec<Receipt>, PaymentError> {
        let url = format!("{}/charges?order={order}", self.settings.base_url);
        self.with_retries(|| async {
            classify::<Vec<Receipt>>(self.http.get(&url).send().await).await
        })
        .await
    }

    /// Runs `call` through the breaker, retrying failures on the backoff schedule.
    async fn with_retries<T, F, Fut>(&self, call: F) -> Result<T, PaymentError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let mut attempt = 0u32;
        loop {
            if !self.lock().try_call(Instant::now()) {
                return Err(PaymentError::BreakerOpen);
            }
            match call().await {
                Attempt::Done(value) => {
                    self.lock().success();
                    return Ok(value);
                }
                Attempt::Refused(status, error) => {
                    // The provider answered deliberately: it is healthy.
                    self.lock().success();
                    return Err(PaymentError::Refused { status, error });
                }
                Attempt::Failed(last) => {
                    self.lock().failure(Instant::now());
                    match self.settings.backoff.jittered(attempt) {
                        Some(wait) => tokio::time::sleep(wait).await,
                        None => {
                            return Err(PaymentError::Exhausted {
                                attempts: attempt + 1,
                                last,
                            });
                        }
                    }
                    attempt += 1;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // The breaker is a few counters, consistent after every method: a panic elsewhere
        // while holding it leaves nothing half-done.
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn classify<T: for<'de> Deserialize<'de>>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Attempt<T> {
    let response = match sent {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Attempt::Failed("a timeout".into()),
        Err(e) => return Attempt::Failed(format!("a transport error ({e})")),
    };
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Attempt::Failed(format!("status {}", status.as_u16()));
    }
    if status.is_client_error() {
        let error = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Attempt::Refused(status.as_u16(), error);
    }
    match response.json::<T>().await {
        Ok(value) => Attempt::Done(value),
        // A body cut short (the timeout struck mid-body) is a lost answer like any other.
        Err(e) => Attempt::Failed(format!("an unreadable answer ({e})")),
    }
}
