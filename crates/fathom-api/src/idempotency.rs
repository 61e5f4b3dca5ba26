//! `Idempotency-Key` on record writes (POST, PATCH, DELETE, batch), after the IETF
//! `draft-ietf-httpapi-idempotency-key-header`.
//!
//! The header's value is one structured-field string (RFC 8941 §3.3.3) of 1 to 255 characters,
//! such as `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`. Keys are scoped to the
//! caller (the account, or the API key; anonymous requests may not send one), so one caller's
//! key never reaches another's response. The first response to a keyed write is stored by the
//! write's own transaction (see `fathom_store::Idempotency`), with a fingerprint of the method,
//! the path and query, and the body (parsed, so formatting does not count):
//! - a retry with the same key and the same request gets the stored response again, with
//!   `Idempotent-Replayed: true`, and writes nothing;
//! - the same key with another request (another body, record, collection or endpoint): 422
//!   `idempotency_key_reused`;
//! - concurrent requests with one key: the first to commit writes; the others' writes fail on
//!   the key's row (on PostgreSQL they wait for the first transaction, from any node) and they
//!   replay its response; 409 `idempotency_key_in_flight` when the first one's outcome cannot be
//!   read yet.
//!
//! Only successful writes are stored: a refused request (validation, rules, a failed `If-Match`,
//! a conflict) wrote nothing, so its retry simply runs again. Records expire after
//! `idempotency.ttl_secs` (24 h by default) and are pruned in the background; an expired key may
//! be used again.

use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use fathom_core::ErrorCode;
use fathom_store::{
    Idempotency, Renderer, StoreErrorKind, StoredResponse, UnitOfWork, WriteResult,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use fathom_engine::{AttachWork, EngineError, WriteOptions};

use crate::AppState;
use crate::error::ApiError;
use crate::records::access::Principal;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The response header marking a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";
/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// The headers of a write's response that a replay repeats.
const STORED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// A request's `Idempotency-Key` (if any), with what its fingerprint covers besides the body.
pub struct IdempotencyKey {
    key: Option<String>,
    method: String,
    target: String,
}

fn invalid(code: &str, detail: impl Into<String>) -> ApiError {
    let detail = detail.into();
    ApiError::new(
        ErrorCode::InvalidIdempotencyKey,
        detail.clone(),
        "Send one key per request as a quoted string of 1 to 255 characters, such as `Idempotency-Key: \"8e03978e-40d5-43e8-bc93-6894a57f9324\"` (a fresh UUID per logical operation).",
    )
    .with_field("Idempotency-Key", code, detail)
}

/// Parses an RFC 8941 sf-string: `"`, printable ASCII with `\"` and `\\` escaped, `"`.
fn sf_string(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('"' | '\\') => out.push(e),
                _ => return None,
            },
            '"' => return None,
            ' '..='~' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// The key of a header value, or why it is refused.
pub fn parse_key(raw: &str) -> Result<String, ApiError> {
    let text = raw.trim_matches(' ');
    let key = sf_string(text).ok_or_else(|| {
        invalid(
            "malformed",
            format!(
                "`Idempotency-Key` is not a quoted string: `{}`.",
                text.chars().take(80).collect::<String>()
            ),
        )
    })?;
    if key.is_empty() {
        return Err(invalid("empty", "`Idempotency-Key` is empty."));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(invalid(
            "too_long",
            format!(
                "`Idempotency-Key` is {} characters long; the limit is {MAX_KEY_CHARS}.",
                key.chars().count()
            ),
        ));
    }
    Ok(key)
}

impl FromRequestParts<AppState> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let key = match values.next() {
            None => None,
            Some(_) if values.next().is_some() => {
                return Err(invalid(
                    "repeated",
                    "The request carries more than one `Idempotency-Key`.",
                ));
            }
            Some(value) => {
                let text = value.to_str().map_err(|_| {
                    invalid("malformed", "`Idempotency-Key` is not printable ASCII.")
                })?;
                Some(parse_key(text)?)
            }
        };
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Ok(Self {
            key,
            method: parts.method.as_str().to_owned(),
            target,
        })
    }
}

/// What to do with a keyed request before running it.
pub enum Begin {
    /// The key answered this request before: send the stored response.
    Replay(Response),
    /// Run the request; with a key, store its response through the [`Claim`].
    Run(Option<Claim>),
}

/// A key about to be used by a write.
pub struct Claim {
    caller: String,
    key: String,
    fingerprint: String,
    ttl: Duration,
}

/// Whose keys these are; anonymous callers have none.
fn caller_of(principal: &Principal) -> Option<String> {
    match principal {
        Principal::Anonymous | Principal::System => None,
        Principal::User(caller) | Principal::Admin(caller) => {
            Some(format!("user:{}", caller.user_id))
        }
        Principal::Service(key) => Some(format!("key:{}", key.id)),
    }
}

impl IdempotencyKey {
    /// Looks the key up: a stored response of the same request replays, of another request is
    /// 422; otherwise the request runs (claiming the key when there is one).
    pub async fn begin(
        self,
        state: &AppState,
        principal: &Principal,
        body: Option<&Map<String, Value>>,
    ) -> Result<Begin, ApiError> {
        let Some(key) = self.key else {
            return Ok(Begin::Run(None));
        };
        let caller = caller_of(principal).ok_or_else(|| {
            invalid(
                "anonymous",
                "`Idempotency-Key` needs credentials: keys are kept per caller.",
            )
        })?;
        let mut digest = Sha256::new();
        let parts: [&[u8]; 4] = [self.method.as_bytes(), b"\n", self.target.as_bytes(), b"\n"];
        for part in parts {
            digest.update(part);
        }
        if let Some(body) = body {
            digest.update(Value::Object(body.clone()).to_string().as_bytes());
        }
        let fingerprint: String = digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let claim = Claim {
            caller,
            key,
            fingerprint,
            ttl: state.config.idempotency_ttl,
        };
        match claim.stored(state).await? {
            Some(replay) => Ok(Begin::Replay(replay)),
            None => Ok(Begin::Run(Some(claim))),
        }
    }
}

impl Claim {
    /// The stored answer to this key: a replay, or 422 for another request's key.
    async fn stored(&self, state: &AppState) -> Result<Option<Response>, ApiError> {
        let record = state
            .store
            .idempotency_record(&self.caller, &self.key, self.ttl)
            .await?;
        match record {
            None => Ok(None),
            Some(record) if record.fingerprint == self.fingerprint => {
                Ok(Some(replay(record.response)))
            }
            Some(_) => Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "This `Idempotency-Key` was used for a different request (another method, path or body); nothing was written.",
                "Use a fresh key for each logical operation; reuse a key only to retry exactly the same request.",
            )
            .with_field("Idempotency-Key", "reused", "The key belongs to another request.")),
        }
    }

    /// `work`, storing the response `render` makes of its results in its own transaction.
    pub fn attach(&self, work: UnitOfWork, render: Renderer) -> UnitOfWork {
        work.with_idempotency(Idempotency {
            caller: self.caller.clone(),
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            ttl: self.ttl,
            render,
        })
    }

    /// The answer to a write that lost its key to a request that committed first: that
    /// request's response (or 422 when it was another request), or 409 while it cannot be read.
    pub async fn resolve(&self, state: &AppState) -> Result<Response, ApiError> {
        match self.stored(state).await? {
            Some(replay) => Ok(replay),
            None => Err(in_flight()),
        }
    }
}

fn in_flight() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyInFlight,
        "A request with this `Idempotency-Key` is still being processed.",
        "Retry in a moment with the same key to receive its response.",
    )
}

/// Whether a store error is the loss of a key to another request.
pub fn lost_key(kind: &StoreErrorKind) -> bool {
    *kind == StoreErrorKind::IdempotencyConflict
}

/// A stored (or about to be stored) response as an HTTP response.
pub fn respond(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = respond(stored);
    response.headers_mut().insert(
        HeaderName::from_static(REPLAYED),
        HeaderValue::from_static("true"),
    );
    response
}

/// A JSON response as stored: status, the replayed headers it carries, body.
pub fn stored_json(
    status: StatusCode,
    headers: &[(HeaderName, String)],
    body: &Value,
) -> StoredResponse {
    let mut kept = vec![(
        header::CONTENT_TYPE.as_str().to_owned(),
        "application/json".to_owned(),
    )];
    kept.extend(
        headers
            .iter()
            .filter(|(name, _)| STORED_HEADERS.contains(name))
            .map(|(name, value)| (name.as_str().to_owned(), value.clone())),
    );
    StoredResponse {
        status: status.as_u16(),
        headers: kept,
        body: body.to_string(),
    }
}

/// A 204 as stored.
pub fn stored_empty(status: StatusCode) -> StoredResponse {
    StoredResponse {
        status: status.as_u16(),
        headers: Vec::new(),
        body: String::new(),
    }
}

/// A keyed or unkeyed write about to run through the records engine: how its results are
/// answered and, with a key, the claim whose record its unit of work stores.
pub struct Keyed {
    claim: Option<Claim>,
    render: Renderer,
    request_id: String,
}

impl Keyed {
    pub fn new(
        claim: Option<Claim>,
        render: impl Fn(&[WriteResult]) -> StoredResponse + Send + Sync + 'static,
    ) -> Self {
        Self {
            claim,
            render: Renderer(std::sync::Arc::new(render)),
            request_id: crate::request_id::current(),
        }
    }

    /// How the records engine runs the write: in this request's name, with the claim attached
    /// to its unit of work.
    pub fn options(&self) -> WriteOptions<'_> {
        WriteOptions {
            request_id: &self.request_id,
            attach: Some(self),
        }
    }

    /// The answer to the write's `outcome`: `render`'s, or the replay of the request that took
    /// the key first. `on_error` maps any other failure.
    pub async fn finish(
        self,
        state: &AppState,
        outcome: Result<Vec<WriteResult>, EngineError>,
        on_error: impl FnOnce(EngineError) -> ApiError,
    ) -> Result<Response, ApiError> {
        match outcome {
            Ok(results) => Ok(respond((self.render.0)(&results))),
            Err(failure) if failure.store.as_ref().is_some_and(lost_key) => match &self.claim {
                Some(claim) => claim.resolve(state).await,
                None => Err(in_flight()),
            },
            Err(failure) => Err(on_error(failure)),
        }
    }
}

impl AttachWork for Keyed {
    /// With a key, the unit of work also stores the claim and the response `render` makes of
    /// its results, in its own transaction.
    fn attach(&self, work: UnitOfWork) -> UnitOfWork {
        match &self.claim {
            Some(claim) => claim.attach(work, self.render.clone()),
            None => work,
        }
    }
}

/// What a renderer answers when the store's results are not the ones its operation yields
/// (a bug): a 500 with no detail.
pub fn unexpected() -> StoredResponse {
    let error = ApiError::internal("a write returned an unexpected result");
    StoredResponse {
        status: 500,
        headers: vec![(
            header::CONTENT_TYPE.as_str().to_owned(),
            "application/problem+json".to_owned(),
        )],
        body: error.body_json().to_string(),
    }
}
