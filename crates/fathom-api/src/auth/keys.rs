//! The signing keys: loaded from the database (so every node signs and verifies alike), created
//! on first start, reloaded when a token names a key this node has not seen (another node or
//! `fathom keys rotate` made it) and at most every minute otherwise.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use fathom_auth::{KeyRing, SigningKey};
use fathom_store::{Store, StoredSigningKey};
use serde_json::Value;

use crate::AppState;

/// How often the ring is refreshed from the database at most.
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// How often a token naming an unknown key may make this node reload its ring: often enough
/// that a key another node has just created is learnt at its first token, rarely enough that
/// tokens with made-up key ids cannot turn into a query each.
const UNKNOWN_KID_RELOAD_EVERY: Duration = Duration::from_secs(2);

/// The current key ring, when it was loaded, and when an unknown key id last forced a reload.
pub struct Keys {
    ring: RwLock<Loaded>,
}

#[derive(Clone)]
struct Loaded {
    ring: Arc<KeyRing>,
    at: Instant,
    /// The last reload an unknown key id asked for. Loads at start and by age do not count:
    /// nodes starting together each create a key, and the first token of another node's key
    /// must be able to reload at once.
    forced_at: Option<Instant>,
}

fn to_signing_key(stored: StoredSigningKey) -> Option<SigningKey> {
    Some(SigningKey {
        kid: stored.kid,
        private_pkcs8_der: stored.private_key,
        public_key: <[u8; 32]>::try_from(stored.public_key.as_slice()).ok()?,
        created_at: stored.created_at,
        retired_at: stored.retired_at,
    })
}

/// Stores a new signing key (retiring the others) and returns its id.
pub async fn rotate(store: &Store) -> Result<String, String> {
    let key = SigningKey::generate(unix_now());
    let kid = key.kid.clone();
    let stored = StoredSigningKey {
        kid: key.kid.clone(),
        private_key: key.private_pkcs8_der.clone(),
        public_key: key.public_key.to_vec(),
        created_at: key.created_at,
        retired_at: None,
    };
    store.add_signing_key(stored).await.map_err(|e| e.detail)?;
    Ok(kid)
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

async fn load(store: &Store) -> Result<KeyRing, String> {
    let mut stored = store.signing_keys().await.map_err(|e| e.detail)?;
    if stored.is_empty() {
        rotate(store).await?;
        stored = store.signing_keys().await.map_err(|e| e.detail)?;
    }
    KeyRing::new(stored.into_iter().filter_map(to_signing_key).collect()).map_err(|e| e.to_string())
}

impl Keys {
    /// Loads the ring, creating the first key if the database has none.
    pub async fn load(store: &Store) -> Result<Self, String> {
        Ok(Self {
            ring: RwLock::new(Loaded {
                ring: Arc::new(load(store).await?),
                at: Instant::now(),
                forced_at: None,
            }),
        })
    }

    fn current(&self) -> Loaded {
        match self.ring.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => Loaded::clone(poisoned.get_ref()),
        }
    }

    /// The ring to use now; reloaded from the database when older than a minute, or when
    /// `unknown_kid` says a token names a key this ring lacks (at most every
    /// [`UNKNOWN_KID_RELOAD_EVERY`]).
    pub async fn ring(&self, store: &Store, unknown_kid: bool) -> Arc<KeyRing> {
        let current = self.current();
        let forced = unknown_kid
            && current
                .forced_at
                .is_none_or(|at| at.elapsed() > UNKNOWN_KID_RELOAD_EVERY);
        if !forced && current.at.elapsed() <= RELOAD_EVERY {
            return current.ring;
        }
        let forced_at = if forced {
            Some(Instant::now())
        } else {
            current.forced_at
        };
        // Whether the load works or not, the attempt counts against the throttle.
        if let Ok(mut guard) = self.ring.write() {
            guard.forced_at = forced_at;
        }
        match load(store).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                if let Ok(mut guard) = self.ring.write() {
                    *guard = Loaded {
                        ring: fresh.clone(),
                        at: Instant::now(),
                        forced_at,
                    };
                }
                fresh
            }
            Err(cause) => {
                tracing::warn!(%cause, "reloading signing keys failed; keeping the current ring");
                current.ring
            }
        }
    }
}

/// `GET /api/v1/auth/jwks.json`: the public keys that verify access tokens.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.auth.keys.ring(&state.store, false).await.jwks())
}
