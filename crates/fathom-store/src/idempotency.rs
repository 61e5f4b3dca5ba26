//! Idempotency records (the IETF `Idempotency-Key` draft): the first response to a keyed write,
//! stored by the write's own transaction, so that a retry with the same key replays it instead
//! of writing again.
//!
//! The row's primary key, `(caller, key)`, is the arbiter: a unit of work carrying an
//! [`Idempotency`] inserts its row as part of its transaction, and an insert that meets a live
//! row of the same caller and key fails the whole unit with
//! [`StoreErrorKind::IdempotencyConflict`](crate::StoreErrorKind::IdempotencyConflict), writing
//! nothing. On PostgreSQL a second node's insert waits on the first transaction's uncommitted
//! row and fails once it commits, so exactly one of them writes, whichever node they run on. A
//! row older than its time to live counts as absent: the insert takes its place.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::record::WriteResult;

/// A response as stored for replay: status, the headers worth replaying, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A stored idempotency record as a lookup finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The digest of the request that made it (method, path, body).
    pub fingerprint: String,
    pub response: StoredResponse,
}

/// Renders the response of a unit of work from its results, inside its transaction, so that
/// the response stored is the one the first caller receives.
#[derive(Clone)]
pub struct Renderer(pub Arc<Render>);

/// The function a [`Renderer`] holds.
pub type Render = dyn Fn(&[WriteResult]) -> StoredResponse + Send + Sync;

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

/// What a keyed unit of work stores with its writes.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// Whose key it is (`user:<id>`, `key:<id>`): one caller never sees another's responses.
    pub caller: String,
    pub key: String,
    pub fingerprint: String,
    /// How long the record holds; an older one is replaced.
    pub ttl: Duration,
    pub render: Renderer,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The creation time below which a record has expired.
pub(crate) fn cutoff_ms(ttl: Duration) -> i64 {
    now_ms().saturating_sub(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// Headers as stored (a JSON array of pairs).
pub(crate) fn encode_headers(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn decode_headers(text: &str) -> Vec<(String, String)> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The upsert both backends run: a new row, or the replacement of an expired one (created
/// before `$8`); no row comes back when a live one holds the key. (SQLite reads `$n` as
/// parameter n here, as they appear in order.)
pub(crate) const UPSERT_SQL: &str = "INSERT INTO \"_fathom_idempotency\" (\"caller\", \"key\", \
     \"fingerprint\", \"status\", \"headers\", \"body\", \"created_at\") VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (\"caller\", \"key\") DO UPDATE SET \"fingerprint\" = excluded.\"fingerprint\", \
     \"status\" = excluded.\"status\", \"headers\" = excluded.\"headers\", \"body\" = excluded.\"body\", \
     \"created_at\" = excluded.\"created_at\" WHERE \"_fathom_idempotency\".\"created_at\" < $8 \
     RETURNING \"created_at\"";

pub(crate) const LOOKUP_SQL: &str = "SELECT \"fingerprint\", \"status\", \"headers\", \"body\" \
     FROM \"_fathom_idempotency\" WHERE \"caller\" = $1 AND \"key\" = $2 AND \"created_at\" >= $3";

pub(crate) const PRUNE_SQL: &str = "DELETE FROM \"_fathom_idempotency\" WHERE \"created_at\" < $1";
