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

    /// Runs `script` in the shared store (each key given the deployment's prefix), for other
    /// parts that keep state there (the sign-in throttle). `None` when there is none or it is
    /// down: the caller then keeps its state on the node.
    pub async fn run(&self, script: &Script, keys: &[&str], args: &[String]) -> Option<Vec<i64>> {
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            return shared.run(&script.0, keys, args).await;
        }
        let _ = (script, keys, args);
        None
    }
}

/// A Lua script for [`Limiter::run`], loaded into Redis once (by its SHA-1) and run atomically.
pub struct Script(#[cfg(feature = "redis")] redis::Script);

impl Script {
    pub fn new(source: &str) -> Self {
        #[cfg(feature = "redis")]
        return Self(redis::Script::new(source));
        #[cfg(not(feature = "redis"))]
        {
            let _ = source;
            Self()
        }
    }
}
