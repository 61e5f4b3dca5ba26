//! Each client address's share of password hashing. Argon2id is the costliest thing the server
//! does for an anonymous caller, and the pool runs a few at a time, so a flood would otherwise
//! queue seconds of work ahead of a legitimate sign-in. An address may have at most
//! `auth.hash_queue_per_address` hashes waiting or running, and no more than
//! `auth.hash_queue_limit` may wait in the shared queue; beyond either the request is answered
//! 429 at once, before any work. Sign-ins from addresses the account already trusts skip the
//! shared queue (they use the hasher's trusted lane) and the queue limit.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use fathom_auth::PasswordHasher;
use fathom_core::ErrorCode;

use crate::error::ApiError;

/// Hashes in progress by client address.
pub struct HashShares {
    per_address: usize,
    queue_limit: usize,
    in_progress: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One hash's place in its address's share, given back when dropped (also when the request is
/// cancelled, since the hasher holds its own permit until the work really ends).
pub struct HashSlot {
    ip: IpAddr,
    in_progress: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.in_progress.lock()
            && let Some(count) = map.get_mut(&self.ip)
        {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

fn busy(detail: String) -> ApiError {
    ApiError::new(
        ErrorCode::TooManyRequests,
        detail,
        "Wait a second (see Retry-After) and try again.",
    )
}

impl HashShares {
    /// Shares of `per_address` (0: unbounded) and a shared queue of `queue_limit` (0: unbounded).
    pub fn new(per_address: usize, queue_limit: usize) -> Self {
        Self {
            per_address,
            queue_limit,
            in_progress: Arc::default(),
        }
    }

    /// Takes a place for one hash by `ip`, or refuses with a 429. `trusted` callers wait in
    /// the hasher's own lane, so the shared queue's length does not concern them.
    pub fn take(
        &self,
        ip: Option<IpAddr>,
        hasher: &PasswordHasher,
        trusted: bool,
    ) -> Result<HashSlot, ApiError> {
        if !trusted && self.queue_limit > 0 && hasher.pool_stats().queued >= self.queue_limit {
            return Err(busy(
                "The server is checking too many passwords at once to queue yours.".into(),
            ));
        }
        let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut map = self
            .in_progress
            .lock()
            .map_err(|_| ApiError::internal("the hashing share table is poisoned"))?;
        let count = map.entry(ip).or_insert(0);
        if self.per_address > 0 && *count >= self.per_address {
            return Err(busy(format!(
                "This address already has {} password checks in progress.",
                self.per_address
            )));
        }
        *count += 1;
        Ok(HashSlot {
            ip,
            in_progress: Arc::clone(&self.in_progress),
        })
    }
}
