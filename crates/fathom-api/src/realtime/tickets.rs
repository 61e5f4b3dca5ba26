//! Single-use tickets for browser SSE, which cannot send an `Authorization` header:
//! `POST /api/v1/realtime/tickets` with the header returns a ticket that
//! `GET /api/v1/realtime?ticket=...` redeems once, within `realtime.ticket_ttl_secs` (30 s), so no
//! long-lived credential ever appears in a URL.
//!
//! Tickets live in this node's memory (bounded; only their SHA-256 is kept as the key, the
//! credential they stand for beside it): a ticket must be redeemed on the node that issued it,
//! which a load balancer without affinity may not do (the client then asks again). Redeeming
//! removes the ticket under the lock, so two concurrent redemptions yield one stream.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use serde_json::{Map, json};
use sha2::{Digest as _, Sha256};

use super::credential::Credential;
use crate::AppState;
use crate::auth::bearer_in;
use crate::envelope::envelope;
use crate::error::ApiError;
use crate::records::access::Principal;

/// Tickets waiting at most (all callers together); beyond it the oldest-expiring go first.
const CAPACITY: usize = 10_000;

struct Waiting {
    credential: Credential,
    expires: Instant,
}

/// This node's unredeemed tickets.
pub struct Tickets {
    ttl: Duration,
    waiting: Mutex<HashMap<[u8; 32], Waiting>>,
}

fn key(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

impl Tickets {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// A new ticket standing for `credential`.
    fn issue(&self, credential: Credential) -> String {
        let ticket = fathom_auth::generate_token();
        let now = Instant::now();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.retain(|_, w| w.expires > now);
        if waiting.len() >= CAPACITY
            && let Some(first) = waiting
                .iter()
                .min_by_key(|(_, w)| w.expires)
                .map(|(k, _)| *k)
        {
            waiting.remove(&first);
        }
        waiting.insert(
            key(&ticket),
            Waiting {
                credential,
                expires: now + self.ttl,
            },
        );
        ticket
    }

    /// The credential of an unexpired ticket, which is used up by this call.
    pub fn redeem(&self, ticket: &str) -> Result<Credential, ApiError> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        match waiting.remove(&key(ticket)) {
            Some(w) if w.expires > Instant::now() => Ok(w.credential),
            _ => Err(ApiError::new(
                ErrorCode::TicketInvalid,
                "The realtime ticket is unknown, already used, or expired.",
                "Get a fresh ticket from POST /api/v1/realtime/tickets (it is valid once, for a few seconds, on the node that issued it) and connect at once.",
            )),
        }
    }
}

/// `POST /api/v1/realtime/tickets`: a single-use ticket for the caller's credential.
pub async fn issue(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = match (&principal, bearer_in(&headers)?) {
        (Principal::Anonymous, _) | (_, None) => {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "A realtime ticket stands for a credential, and this request sent none.",
                "Send `Authorization: Bearer <access_token or API key>`; anonymous streams need no ticket.",
            ));
        }
        (_, Some(token)) => token.to_owned(),
    };
    let realtime = &state.realtime;
    let ticket = realtime.tickets.issue(Credential::Token(token));
    let data = json!({
        "ticket": ticket,
        "expires_in": realtime.settings.ticket_ttl.as_secs(),
    });
    let no_store = [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    Ok((StatusCode::CREATED, no_store, envelope(data, Map::new())).into_response())
}
