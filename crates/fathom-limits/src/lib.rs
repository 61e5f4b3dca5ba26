//! Rate limits, with no HTTP: [`Quota`] (`"600/min"`), the GCRA arithmetic (`gcra.rs`), the
//! per-node table of client states ([`LocalTable`]) and, with the `redis` feature, the same
//! limits shared by every node through one atomic Redis script (`shared.rs`). [`Limiter`] is
//! what the API holds: it counts in Redis when one is configured and answering, on the node
//! otherwise, and says which (`status`) for `/ready` and `/metrics`.

mod gcra;
mod local;
mod quota;
#[cfg(feature = "redis")]
mod shared;

use std::sync::Arc;
#[cfg(feature = "redis")]
use std::time::Duration;

pub use gcra::{Outcome, decide};
pub use local::LocalTable;
pub use quota::Quota;

/// Where a [`Limiter`] counts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// On this node only (no Redis configured).
    Local,
    /// In Redis, shared by every node.
    Shared,
    /// Redis is configured but does not answer: on this node until it does.
    Fallback,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Shared => "redis",
            Self::Fallback => "local_fallback",
        }
    }
}

/// Counts requests against quotas; a clone shares the counts.
#[derive(Clone, Default)]
pub struct Limiter {
    local: Arc<LocalTable>,
    #[cfg(feature = "redis")]
    shared: Option<Arc<shared::Shared>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Limiter({})", self.status().as_str())
    }
}

impl Limiter {
    /// Limits counted on this node only.
    pub fn local() -> Self {
        Self::default()
    }

    /// Limits shared through the Redis at `url` (connected on first use, so a Redis that is
    /// down at start is only a fallback), its keys starting with `prefix:`.
    #[cfg(feature = "redis")]
    pub fn shared(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(Self {
            local: Arc::default(),
            shared: Some(shared::Shared::open(url, prefix)?),
        })
    }

    /// Counts one request of the client `subject` under `policy` against `quota`.
    pub async fn check(&self, policy: &str, subject: &str, quota: &Quota) -> Outcome {
        let key = format!("rl:{policy}:{subject}");
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared
            && let Some(outcome) = shared.check(&key, quota).await
        {
            return outcome;
        }
        self.local.check(&key, quota)
    }

    pub fn status(&self) -> Status {
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            return if shared.is_up() {
                Status::Shared
            } else {
                Status::Fallback
            };
        }
        Status::Local
    }

    /// Times the shared store was found down since start (0 without one).
    pub fn outages(&self) -> u64 {
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            return shared.outages();
        }
        0
    }

    /// Counters kept for other parts (the sign-in throttle) in the shared store, or `None`
    /// when there is none or it is down: the caller then counts on the node.
    pub fn counters(&self) -> Option<Counters<'_>> {
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared
            && shared.is_up()
        {
            return Some(Counters { shared });
        }
        None
    }
}

/// Counters in the shared store. Every call may still find it down (`None` / `false`), and the
/// caller then counts on the node.
pub struct Counters<'a> {
    #[cfg(feature = "redis")]
    shared: &'a Arc<shared::Shared>,
    #[cfg(not(feature = "redis"))]
    _never: std::marker::PhantomData<&'a ()>,
}

#[cfg(feature = "redis")]
impl Counters<'_> {
    /// Adds one to `key`, kept for `ttl` after this call; the new count.
    pub async fn bump(&self, key: &str, ttl: Duration) -> Option<u64> {
        self.shared.bump(key, ttl).await
    }

    /// The counts under `keys`, 0 for a missing one.
    pub async fn counts(&self, keys: &[&str]) -> Option<Vec<u64>> {
        self.shared.counts(keys).await
    }

    /// Sets `key` (to 1) for `ttl`.
    pub async fn mark(&self, key: &str, ttl: Duration) -> bool {
        self.shared.mark(key, ttl).await
    }

    /// Removes `keys`.
    pub async fn remove(&self, keys: &[&str]) -> bool {
        self.shared.remove(keys).await
    }
}
