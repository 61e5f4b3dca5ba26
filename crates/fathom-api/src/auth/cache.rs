//! Per-node memory on the authenticated request path, so that a caller who sends the same access
//! token many times pays for its Ed25519 signature once and for the session check at most once
//! an interval.
//!
//! - [`TokenCache`] remembers access tokens whose signature, issuer and audience were verified,
//!   keyed by the SHA-256 of the token (the token itself is not kept). A hit skips the signature
//!   check only: the validity window (`exp`, `nbf`, with the configured leeway) is checked again
//!   at every use, exactly as [`fathom_auth::KeyRing::verify`] checks it, and an entry is dropped
//!   once its token has expired. Nothing else can make a verified token unverifiable later:
//!   signing keys are retired, never removed from the ring, and issuer and audience are fixed at
//!   start-up. Revocation is the session's business, below.
//! - [`SessionCache`] remembers that a session was live, with its account's authority (roles,
//!   tenant, verified) as read then, for a short interval (`auth.session_cache_ms`). Only a
//!   positive verdict is kept. Every place where this node ends a session (logout, revocation,
//!   password change and reset, disabling a user, refresh token reuse) or changes an account
//!   (an administrator's update, email verification) forgets it at once, so on this node the
//!   next request sees the change. Another node keeps its own verdict until the interval runs
//!   out: that interval is how long a revoked access token, or a removed role or tenant, may
//!   keep working there.
//!
//! Both are bounded (a fixed number of entries, in shards behind short mutexes), so memory does
//! not grow with the number of callers; when a shard is full, expired entries go first, then an
//! arbitrary one (which only costs its owner one more check).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fathom_auth::Claims;
use fathom_store::Authority;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// Shards per cache: enough that two or three busy CPUs rarely wait on the same mutex.
const SHARDS: usize = 16;

/// Verified access tokens kept at most (all shards together).
pub const TOKEN_CAPACITY: usize = 10_000;

/// Sessions whose liveness is kept at most (all shards together).
pub const SESSION_CAPACITY: usize = 10_000;

/// A fixed number of mutex-guarded maps, each holding at most `per_shard` entries.
struct Shards<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    per_shard: usize,
}

impl<K: Eq + Hash, V> Shards<K, V> {
    fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard,
        }
    }

    /// The shard at `index` (reduced modulo the shard count). A poisoned mutex is taken over:
    /// every update leaves the map consistent, so a panic elsewhere cannot leave it half-done.
    fn shard(&self, index: usize) -> MutexGuard<'_, HashMap<K, V>> {
        let shard = &self.shards[index % self.shards.len()];
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Inserts into a locked shard, first making room: entries `stale` says are useless go
    /// first, then, if the shard is still full, one arbitrary entry.
    fn insert_bounded(&self, map: &mut HashMap<K, V>, key: K, value: V, stale: impl Fn(&V) -> bool)
    where
        K: Clone,
    {
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            map.retain(|_, v| !stale(v));
            if map.len() >= self.per_shard
                && let Some(victim) = map.keys().next().cloned()
            {
                map.remove(&victim);
            }
        }
        map.insert(key, value);
    }

    fn len(&self) -> usize {
        (0..self.shards.len()).map(|i| self.shard(i).len()).sum()
    }
}

/// What a verified access token says, parsed once.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: Arc<Claims>,
    pub user_id: Uuid,
    pub session_id: Uuid,
}

impl VerifiedToken {
    /// Whether the token is inside its validity window at `now` (unix seconds), with `leeway`
    /// seconds of clock skew: the same comparison as `KeyRing::verify`.
    fn valid_at(&self, now: i64, leeway: i64) -> bool {
        now < self.claims.exp.saturating_add(leeway)
            && self.claims.nbf <= now.saturating_add(leeway)
    }
}

/// Access tokens whose signature has been verified on this node, until they expire.
pub struct TokenCache {
    entries: Shards<[u8; 32], VerifiedToken>,
    /// The clock skew tolerated on `exp` and `nbf`, in seconds (`TokenConfig::leeway_secs`).
    leeway: i64,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenCache {
    pub fn new(capacity: usize, leeway_secs: u64) -> Self {
        Self {
            entries: Shards::new(capacity),
            leeway: i64::try_from(leeway_secs).unwrap_or(i64::MAX),
        }
    }

    /// The verified claims of `token` if it was verified here before and is valid at `now`.
    /// `None` sends the caller to the full verification, which also words the refusal.
    pub fn get(&self, token: &str, now: i64) -> Option<VerifiedToken> {
        let key = digest(token);
        let mut shard = self.entries.shard(usize::from(key[0]));
        let entry = shard.get(&key)?;
        if entry.valid_at(now, self.leeway) {
            return Some(entry.clone());
        }
        if now >= entry.claims.exp.saturating_add(self.leeway) {
            shard.remove(&key);
        }
        None
    }

    /// Remembers `token`, which the key ring has just verified at `now`.
    pub fn insert(&self, token: &str, verified: VerifiedToken, now: i64) {
        if !verified.valid_at(now, self.leeway) {
            return;
        }
        let key = digest(token);
        let leeway = self.leeway;
        let mut shard = self.entries.shard(usize::from(key[0]));
        self.entries
            .insert_bounded(&mut shard, key, verified, |entry: &VerifiedToken| {
                now >= entry.claims.exp.saturating_add(leeway)
            });
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A session's last positive liveness verdict, with the account's authority read with it.
#[derive(Debug, Clone)]
struct LiveSession {
    user_id: Uuid,
    authority: Arc<Authority>,
    checked_at: Instant,
}

/// Sessions recently found live in the database, with their account's authority, for `ttl`;
/// a zero `ttl` disables it.
pub struct SessionCache {
    entries: Shards<Uuid, LiveSession>,
    ttl: Duration,
    /// Bumped by every `forget*`. A verdict read from the database is stored only if no session
    /// was forgotten meanwhile, so a check racing with a logout cannot store a stale "live".
    generation: AtomicU64,
}

fn session_shard(session_id: Uuid) -> usize {
    // The last bytes of a v4 or v7 uuid are random.
    usize::from(session_id.as_bytes()[15])
}

impl SessionCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Shards::new(capacity),
            ttl,
            generation: AtomicU64::new(0),
        }
    }

    /// The account's authority if `session_id` of `user_id` was found live less than `ttl` ago.
    pub fn get(&self, user_id: Uuid, session_id: Uuid) -> Option<Arc<Authority>> {
        if self.ttl.is_zero() {
            return None;
        }
        let shard = self.entries.shard(session_shard(session_id));
        shard
            .get(&session_id)
            .filter(|entry| entry.user_id == user_id && entry.checked_at.elapsed() < self.ttl)
            .map(|entry| Arc::clone(&entry.authority))
    }

    /// Whether `session_id` of `user_id` was found live less than `ttl` ago.
    pub fn is_live(&self, user_id: Uuid, session_id: Uuid) -> bool {
        self.get(user_id, session_id).is_some()
    }

    /// To read before asking the database, then pass to [`SessionCache::remember`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Stores a positive verdict (and the authority read with it) the database gave after
    /// `generation` was read, unless a session or account has been forgotten since (the
    /// verdict might predate that revocation or change).
    pub fn remember(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        authority: Arc<Authority>,
        generation: u64,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let ttl = self.ttl;
        let mut shard = self.entries.shard(session_shard(session_id));
        // Checked under the shard's lock: a `forget` bumps the generation before it takes the
        // lock, so either it sees this entry and removes it, or this check sees its bump.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        let entry = LiveSession {
            user_id,
            authority,
            checked_at: Instant::now(),
        };
        self.entries
            .insert_bounded(&mut shard, session_id, entry, |e: &LiveSession| {
                e.checked_at.elapsed() >= ttl
            });
    }

    /// Forgets one session, which this node has just ended.
    pub fn forget(&self, session_id: Uuid) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries
            .shard(session_shard(session_id))
            .remove(&session_id);
    }

    /// Forgets every session of `user_id`: all of them (or all but the caller's own) were just
    /// ended, or the account just changed. The next request of each reads the database again,
    /// which is cheap.
    pub fn forget_user(&self, user_id: Uuid) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for index in 0..SHARDS {
            self.entries
                .shard(index)
                .retain(|_, entry| entry.user_id != user_id);
        }
    }

    /// How many verdicts are remembered (fresh or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64, nbf: i64) -> Arc<Claims> {
        Arc::new(Claims {
            sub: Uuid::nil().to_string(),
            roles: vec!["user".into()],
            tenant: None,
            verified: true,
            sid: Uuid::nil().to_string(),
            iss: "fathom".into(),
            aud: "fathom-api".into(),
            exp,
            nbf,
            iat: nbf,
            jti: "jti".into(),
        })
    }

    fn authority() -> Arc<Authority> {
        Arc::new(Authority {
            roles: vec!["user".into()],
            tenant: None,
            verified: true,
        })
    }

    fn verified(exp: i64, nbf: i64) -> VerifiedToken {
        VerifiedToken {
            claims: claims(exp, nbf),
            user_id: Uuid::new_v4(),
            session_id: Uuid::new_v4(),
        }
    }

    #[test]
    fn a_token_is_remembered_only_inside_its_window() {
        let cache = TokenCache::new(100, 30);
        let token = verified(1_000, 100);
        cache.insert("a.b.c", token.clone(), 500);
        let hit = cache.get("a.b.c", 500).expect("remembered");
        assert_eq!(hit.session_id, token.session_id);
        assert!(cache.get("a.b.d", 500).is_none(), "another token misses");
        // Valid up to exp + leeway (exclusive), like KeyRing::verify.
        assert!(cache.get("a.b.c", 1_029).is_some());
        assert!(cache.get("a.b.c", 1_030).is_none());
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
        // Not yet valid beyond the leeway: a miss, but kept for later.
        cache.insert("early", verified(1_000, 200), 200);
        assert!(cache.get("early", 169).is_none());
        assert_eq!(cache.len(), 1);
        assert!(cache.get("early", 170).is_some());
    }

    #[test]
    fn an_expired_token_is_never_stored() {
        let cache = TokenCache::new(100, 0);
        cache.insert("old", verified(1_000, 0), 1_000);
        assert!(cache.is_empty());
        assert!(cache.get("old", 999).is_none());
    }

    #[test]
    fn the_token_cache_stays_bounded() {
        let cache = TokenCache::new(64, 0);
        for i in 0..1_000 {
            cache.insert(&format!("token-{i}"), verified(2_000, 0), 10);
        }
        assert!(cache.len() <= 64, "{} entries", cache.len());
    }

    #[test]
    fn a_full_shard_drops_stale_entries_before_live_ones() {
        let shards: Shards<u32, i64> = Shards::new(4 * SHARDS);
        let mut map = shards.shard(0);
        // Negative values play expired entries.
        for (key, value) in [(1, 10), (2, -1), (3, 30), (4, -2)] {
            shards.insert_bounded(&mut map, key, value, |v| *v < 0);
        }
        assert_eq!(map.len(), 4);
        shards.insert_bounded(&mut map, 5, 50, |v| *v < 0);
        let mut keys: Vec<u32> = map.keys().copied().collect();
        keys.sort_unstable();
        assert_eq!(keys, [1, 3, 5]);
        // Full of live entries: one arbitrary entry makes room, the new one is kept.
        shards.insert_bounded(&mut map, 6, 60, |v| *v < 0);
        shards.insert_bounded(&mut map, 7, 70, |v| *v < 0);
        assert_eq!(map.len(), 4);
        assert_eq!(map.get(&7), Some(&70));
    }

    #[test]
    fn a_live_session_is_remembered_for_the_interval_and_per_user() {
        let cache = SessionCache::new(100, Duration::from_secs(60));
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(!cache.is_live(user, session));
        cache.remember(user, session, authority(), cache.generation());
        assert!(cache.is_live(user, session));
        assert_eq!(
            cache.get(user, session).as_deref(),
            Some(&*authority()),
            "the authority read with the verdict comes back with it"
        );
        assert!(
            !cache.is_live(Uuid::new_v4(), session),
            "the verdict is for the session's own user only"
        );
        let short = SessionCache::new(100, Duration::from_millis(20));
        short.remember(user, session, authority(), short.generation());
        assert!(short.is_live(user, session));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!short.is_live(user, session), "the interval has passed");
    }

    #[test]
    fn a_zero_interval_disables_the_session_cache() {
        let cache = SessionCache::new(100, Duration::ZERO);
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        cache.remember(user, session, authority(), cache.generation());
        assert!(!cache.is_live(user, session));
        assert!(cache.is_empty());
    }

    #[test]
    fn forgetting_ends_a_verdict_at_once() {
        let cache = SessionCache::new(100, Duration::from_secs(60));
        let user = Uuid::new_v4();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let other = Uuid::new_v4();
        for session in [a, b] {
            cache.remember(user, session, authority(), cache.generation());
        }
        cache.remember(other, c, authority(), cache.generation());
        cache.forget(a);
        assert!(!cache.is_live(user, a));
        assert!(cache.is_live(user, b));
        cache.forget_user(user);
        assert!(!cache.is_live(user, b));
        assert!(cache.is_live(other, c), "another user's sessions stay");
    }

    #[test]
    fn a_verdict_read_before_a_revocation_is_not_stored() {
        let cache = SessionCache::new(100, Duration::from_secs(60));
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        // A request reads the generation and asks the database; meanwhile the session ends.
        let before = cache.generation();
        cache.forget(session);
        cache.remember(user, session, authority(), before);
        assert!(!cache.is_live(user, session));
        // Even a revocation of some other session makes the racing verdict unsafe to keep.
        let before = cache.generation();
        cache.forget_user(Uuid::new_v4());
        cache.remember(user, session, authority(), before);
        assert!(!cache.is_live(user, session));
        cache.remember(user, session, authority(), cache.generation());
        assert!(cache.is_live(user, session));
    }

    #[test]
    fn the_session_cache_stays_bounded() {
        let cache = SessionCache::new(32, Duration::from_secs(60));
        let user = Uuid::new_v4();
        for _ in 0..1_000 {
            cache.remember(user, Uuid::new_v4(), authority(), cache.generation());
        }
        assert!(cache.len() <= 32, "{} entries", cache.len());
    }
}
