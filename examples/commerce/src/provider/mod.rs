//! The payment provider: a small HTTP service of its own, standing in for a card processor.
//! `POST /charges` (an `Idempotency-Key` header is required: a repeated key never charges
//! twice and reports the original charge), `POST /refunds`, `GET /charges?order=` (the ledger,
//! for checking that nothing was charged twice), and `GET`/`PUT /control` to make it fail,
//! slow down or time out. Its answers are plain JSON (`{"error", "detail"}` on failure): it
//! plays a third party, not a Fathom server.

mod chaos;
mod ledger;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fathom_core::outbound::random_unit;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

pub use chaos::{Chaos, Fate};
pub use ledger::{Charge, ChargeOutcome, Ledger, RefundOutcome};

/// The provider's state: its ledger, its misbehaviour and its call counters.
#[derive(Clone, Default)]
pub struct Provider {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    ledger: Mutex<Ledger>,
    chaos: Mutex<Chaos>,
    counts: Mutex<Counts>,
}

/// How many calls met each fate (`GET /control` reports them).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    pub charges: u64,
    pub refunds: u64,
    pub failed: u64,
    pub timed_out: u64,
}

impl Provider {
    pub fn new(chaos: Chaos) -> Self {
        let provider = Self::default();
        *lock(&provider.inner.chaos) = chaos;
        provider
    }

    /// The provider's routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/charges", post(create_charge).get(list_charges))
            .route("/refunds", post(create_refund))
            .route("/control", get(read_control).put(set_control))
            .with_state(self.clone())
    }

    /// Serves the provider on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Every charge made so far (the end-to-end test reads the ledger directly as well as over
    /// HTTP).
    pub fn charges(&self) -> Vec<Charge> {
        lock(&self.inner.ledger).all()
    }

    pub fn counts(&self) -> Counts {
        *lock(&self.inner.counts)
    }

    pub fn set_chaos(&self, chaos: Chaos) {
        *lock(&self.inner.chaos) = chaos;
    }

    /// Applies the configured delay and draws the call's fate; a timed-out call is held here
    /// for `timeout_ms` after `work` ran, so the work is done but its answer comes too late.
    async fn suffer(&self, counted: fn(&mut Counts)) -> (Fate, Duration) {
        let chaos = *lock(&self.inner.chaos);
        if chaos.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(chaos.delay_ms)).await;
        }
        let fate = chaos.fate(random_unit());
        let mut counts = lock(&self.inner.counts);
        match fate {
            Fate::Succeed => counted(&mut counts),
            Fate::Fail => counts.failed += 1,
            Fate::TimeOut => {
                counted(&mut counts);
                counts.timed_out += 1;
            }
        }
        (fate, Duration::from_millis(chaos.timeout_ms))
    }
}

/// A poisoned lock only means another request panicked mid-update of plain data; the ledger's
/// maps stay consistent between statements, so the data is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn refuse(status: StatusCode, error: &str, detail: &str) -> Response {
    (status, Json(json!({ "error": error, "detail": detail }))).into_response()
}

fn unavailable() -> Response {
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "provider_unavailable",
        "The provider could not process the call; nothing was done. Retry with the same idempotency key.",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChargeRequest {
    order: String,
    amount_cents: i64,
}

async fn create_charge(
    State(provider): State<Provider>,
    headers: HeaderMap,
    body: Result<Json<ChargeRequest>, JsonRejection>,
) -> Response {
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 200)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "idempotency_key_required",
            "Send an Idempotency-Key header (1 to 200 characters) so that a retry never charges twice.",
        );
    };
    let key = key.to_owned();
    let Ok(Json(request)) = body else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "Send a JSON body {\"order\": \"...\", \"amount_cents\": 1250}.",
        );
    };
    if request.amount_cents <= 0 || request.order.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_charge",
            "A charge needs an order reference and a positive amount_cents.",
        );
    }
    let (fate, hold) = provider.suffer(|c| c.charges += 1).await;
    if fate == Fate::Fail {
        return unavailable();
    }
    let outcome = lock(&provider.inner.ledger).charge(&key, &request.order, request.amount_cents);
    if fate == Fate::TimeOut {
        tokio::time::sleep(hold).await;
    }
    match outcome {
        ChargeOutcome::Created(charge) => (StatusCode::CREATED, Json(charge)).into_response(),
        ChargeOutcome::Replayed(charge) => (
            StatusCode::OK,
            [("idempotent-replayed", "true")],
            Json(charge),
        )
            .into_response(),
        ChargeOutcome::KeyReused(_) => refuse(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "This idempotency key was used for another order or amount; nothing was charged.",
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundRequest {
    order: String,
}

async fn create_refund(
    State(provider): State<Provider>,
    body: Result<Json<RefundRequest>, JsonRejection>,
) -> Response {
    let Ok(Json(request)) = body else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "Send a JSON body {\"order\": \"...\"}.",
        );
    };
    let (fate, hold) = provider.suffer(|c| c.refunds += 1).await;
    if fate == Fate::Fail {
        return unavailable();
    }
    let outcome = lock(&provider.inner.ledger).refund(&request.order);
    if fate == Fate::TimeOut {
        tokio::time::sleep(hold).await;
    }
    match outcome {
        RefundOutcome::Refunded(charge) => {
            Json(json!({ "refunded": true, "charge": charge })).into_response()
        }
        RefundOutcome::NothingCharged => Json(json!({ "refunded": false })).into_response(),
    }
}

#[derive(Deserialize)]
struct ChargesQuery {
    order: Option<String>,
}

async fn list_charges(
    State(provider): State<Provider>,
    Query(query): Query<ChargesQuery>,
) -> Response {
    let ledger = lock(&provider.inner.ledger);
    let charges = match query.order {
        Some(order) => ledger.charges_for(&order),
        None => ledger.all(),
    };
    Json(charges).into_response()
}

async fn read_control(State(provider): State<Provider>) -> Response {
    let chaos = *lock(&provider.inner.chaos);
    Json(json!({ "chaos": chaos, "counts": provider.counts() })).into_response()
}

async fn set_control(
    State(provider): State<Provider>,
    body: Result<Json<Chaos>, JsonRejection>,
) -> Response {
    let Ok(Json(chaos)) = body else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "Send a JSON body with any of fail_percent, timeout_percent, delay_ms, timeout_ms.",
        );
    };
    if let Err(detail) = chaos.validate() {
        return refuse(StatusCode::BAD_REQUEST, "invalid_control", &detail);
    }
    provider.set_chaos(chaos);
    Json(json!({ "chaos": chaos })).into_response()
}
