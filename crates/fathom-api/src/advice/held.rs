//! The index findings `GET /api/v1/admin/advice` shows, held for [`HOLD`]. Verifying a candidate
//! index builds a scratch copy of up to 10,000 sampled rows and asks the planner about it, which
//! is seconds of database work on a large deployment: an administrator refreshing the page, or
//! several at once, starts at most one verification per [`HOLD`] on this node. Callers that arrive
//! while one runs wait for it and share its answer. Client advice is not held: it is read from
//! memory and costs nothing.

use std::sync::Arc;
use std::time::Duration;

use fathom_architect::Finding;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long verified index findings are shown before the next request verifies them again.
pub const HOLD: Duration = Duration::from_secs(60);

/// Index findings and when they were verified.
#[derive(Clone)]
pub struct Verified {
    pub findings: Arc<Vec<Finding>>,
    /// When the verification ran (UTC, the records' timestamp form), shown to the caller as
    /// `meta.indexesCheckedAt`.
    pub at: String,
    taken: Instant,
}

/// The last verification, per served schema (a reload serves a new state, with a new one).
#[derive(Default)]
pub struct HeldIndexAdvice {
    last: Mutex<Option<Verified>>,
}

impl HeldIndexAdvice {
    /// The held findings while they are younger than [`HOLD`], otherwise those `verify` makes
    /// (held for the next callers). A failed verification is not held.
    pub async fn get_or_verify<E, F>(&self, verify: F) -> Result<Verified, E>
    where
        F: AsyncFnOnce() -> Result<Vec<Finding>, E>,
    {
        // Held across the verification: callers arriving meanwhile wait for its answer instead
        // of starting their own.
        let mut last = self.last.lock().await;
        if let Some(held) = last.as_ref().filter(|held| held.taken.elapsed() < HOLD) {
            return Ok(held.clone());
        }
        let verified = Verified {
            findings: Arc::new(verify().await?),
            at: fathom_schema::value::now_timestamp(),
            taken: Instant::now(),
        };
        *last = Some(verified.clone());
        Ok(verified)
    }
}
