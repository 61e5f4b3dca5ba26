//! Password hashing with Argon2id on a bounded blocking pool, and the password policy.
//!
//! Argon2id is deliberately slow and memory-hungry (19 MiB per hash by default). Running it on
//! the async runtime would stall every other request, and running it unbounded on
//! `spawn_blocking` would let a login flood allocate gigabytes at once. [`PasswordHasher`] does
//! both right: every hash and verification runs on `tokio::task::spawn_blocking` only after
//! taking a permit from a semaphore of `max_concurrent` permits, so excess work queues.
//!
//! Passwords never appear in logs or errors: they are copied only into zeroize-on-drop buffers
//! for the blocking task, and nothing here implements `Debug` over them.

mod compute;
mod policy;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

pub use policy::{PasswordPolicy, PolicyViolation, common_password_count, is_common_password};

use crate::error::AuthError;

/// The hard cap on a password's size in bytes, enforced by the hasher whatever the policy says.
/// Every password the policy accepts (at most 1024 characters of at most 4 bytes) fits.
pub const MAX_PASSWORD_BYTES: usize = PasswordPolicy::MAX_LENGTH * 4;

/// Argon2id cost parameters.
///
/// The defaults are OWASP's minimum recommendation for Argon2id (m = 19 MiB, t = 2, p = 1);
/// [`PasswordParams::validate`] refuses anything weaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory cost in KiB (Argon2 `m`). At least 19456.
    pub memory_kib: u32,
    /// Number of passes (Argon2 `t`). At least 2.
    pub iterations: u32,
    /// Degree of parallelism (Argon2 `p`), 1 to 4. This crate computes lanes sequentially, so a
    /// higher value costs the same CPU time; it exists to match hashes made elsewhere.
    pub parallelism: u32,
}

impl PasswordParams {
    /// The lowest accepted memory cost, in KiB.
    pub const MIN_MEMORY_KIB: u32 = 19_456;
    /// The lowest accepted number of passes.
    pub const MIN_ITERATIONS: u32 = 2;
    /// The highest accepted degree of parallelism.
    pub const MAX_PARALLELISM: u32 = 4;

    /// Checks that the parameters are at least the recommended minimum.
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] naming the offending parameter.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.memory_kib < Self::MIN_MEMORY_KIB {
            return Err(AuthError::InvalidConfig(
                "password memory_kib must be at least 19456",
            ));
        }
        if self.iterations < Self::MIN_ITERATIONS {
            return Err(AuthError::InvalidConfig(
                "password iterations must be at least 2",
            ));
        }
        if !(1..=Self::MAX_PARALLELISM).contains(&self.parallelism) {
            return Err(AuthError::InvalidConfig(
                "password parallelism must be between 1 and 4",
            ));
        }
        Ok(())
    }

    fn to_argon2(self) -> Result<Params, AuthError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|error| AuthError::Hashing(error.to_string()))
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self {
            memory_kib: Self::MIN_MEMORY_KIB,
            iterations: Self::MIN_ITERATIONS,
            parallelism: 1,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// Whether the password is the one the hash was made from.
    pub matches: bool,
    /// Whether the caller should re-hash the (correct) password with the current parameters and
    /// store the new hash: the stored hash uses weaker parameters, an older Argon2 version or a
    /// variant other than Argon2id. Always `false` when `matches` is `false`.
    pub needs_rehash: bool,
}

/// Which queue a hash or verification waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lane {
    /// The shared queue every request waits in.
    #[default]
    General,
    /// A queue of its own (with as many permits again) for callers the server already trusts,
    /// such as a sign-in from an address that has signed in to the account before, so that a
    /// flood in the general queue never stands ahead of them.
    Trusted,
}

/// A snapshot of the hashing pool, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// The configured number of permits (per lane).
    pub max_concurrent: usize,
    /// Jobs waiting for a permit in the general lane right now.
    pub queued: usize,
    /// Hashes or verifications running on the blocking pool right now.
    pub running: usize,
    /// The highest `running` ever observed by this hasher.
    pub peak_running: usize,
}

/// Hashes and verifies passwords with Argon2id on a bounded blocking pool.
///
/// Cheap to clone: clones share the semaphore and counters.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: PasswordParams,
    argon2_params: Params,
    semaphore: Arc<Semaphore>,
    /// The permits of [`Lane::Trusted`].
    trusted: Arc<Semaphore>,
    max_concurrent: usize,
    /// Jobs waiting for a permit of the general lane.
    queued: AtomicUsize,
    /// A PHC string with the current parameters that no password matches; see `verify_dummy`.
    dummy_phc: String,
    /// Working memory of running hashes, reused (one buffer per permit at most).
    memory: compute::MemoryPool,
    running: AtomicUsize,
    peak_running: AtomicUsize,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("max_concurrent", &self.inner.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with the given parameters, running at most `max_concurrent` hashes at once.
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] when the parameters are below the minimum or
    /// `max_concurrent` is zero.
    pub fn new(params: PasswordParams, max_concurrent: usize) -> Result<Self, AuthError> {
        params.validate()?;
        if max_concurrent == 0 {
            return Err(AuthError::InvalidConfig(
                "password max_concurrent must be at least 1",
            ));
        }
        let argon2_params = params.to_argon2()?;
        let dummy_phc = dummy_phc(&argon2_params)?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                argon2_params,
                semaphore: Arc::new(Semaphore::new(max_concurrent)),
                trusted: Arc::new(Semaphore::new(max_concurrent)),
                max_concurrent,
                queued: AtomicUsize::new(0),
                dummy_phc,
                memory: compute::MemoryPool::default(),
                running: AtomicUsize::new(0),
                peak_running: AtomicUsize::new(0),
            }),
        })
    }

    /// The default bound on concurrent hashes: the number of CPUs this process may use.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.inner.params
    }

    /// A snapshot of the pool's load.
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            max_concurrent: self.inner.max_concurrent,
            queued: self.inner.queued.load(Ordering::SeqCst),
            running: self.inner.running.load(Ordering::SeqCst),
            peak_running: self.inner.peak_running.load(Ordering::SeqCst),
        }
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a fresh
    /// random salt. The policy is not checked here: call [`PasswordPolicy::check`] first.
    ///
    /// # Errors
    /// [`AuthError::WeakPassword`] (`too_long`) past [`MAX_PASSWORD_BYTES`];
    /// [`AuthError::Hashing`] or [`AuthError::HashingTaskFailed`] on internal failure.
    pub async fn hash(&self, password: &str) -> Result<String, AuthError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AuthError::WeakPassword(PolicyViolation::TooLong {
                max_length: PasswordPolicy::MAX_LENGTH,
            }));
        }
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let inner = Arc::clone(&self.inner);
        self.run_blocking(Lane::General, move || {
            compute::hash_phc(&inner.memory, &inner.argon2_params, &password)
        })
        .await?
    }

    /// Checks a password against a stored PHC string, and says whether the hash should be
    /// upgraded. Any Argon2 variant verifies (with the parameters stored in the hash).
    ///
    /// # Errors
    /// [`AuthError::MalformedHash`] when `phc` is not a readable PHC string,
    /// [`AuthError::UnsupportedHash`] when it is not an Argon2 hash, and internal failures. A
    /// wrong password is not an error: it is `Ok` with `matches: false`.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verification, AuthError> {
        self.verify_in(Lane::General, password, phc).await
    }

    /// [`Self::verify`] in the given lane.
    ///
    /// # Errors
    /// As [`Self::verify`].
    pub async fn verify_in(
        &self,
        lane: Lane,
        password: &str,
        phc: &str,
    ) -> Result<Verification, AuthError> {
        let stored = PasswordHash::new(phc).map_err(|_| AuthError::MalformedHash)?;
        let algorithm =
            Algorithm::new(stored.algorithm.as_str()).map_err(|_| AuthError::UnsupportedHash)?;
        if password.len() > MAX_PASSWORD_BYTES {
            // No stored password can be this long; still spend the usual time.
            self.verify_dummy("").await;
            return Ok(Verification {
                matches: false,
                needs_rehash: false,
            });
        }
        let outdated = self.is_outdated(&stored, algorithm)?;
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let inner = Arc::clone(&self.inner);
        let matches = self
            .run_blocking(lane, move || {
                compute::check_phc(&inner.memory, &password, &stored)
            })
            .await??;
        Ok(Verification {
            matches,
            needs_rehash: matches && outdated,
        })
    }

    /// Spends one verification's worth of time and memory without any stored hash, so that a
    /// login for an unknown account costs the same as one for a known account. The hash used
    /// has the current parameters and matches no password.
    pub async fn verify_dummy(&self, password: &str) {
        let password = Zeroizing::new(password.as_bytes().to_vec());
        let Ok(stored) = PasswordHash::new(&self.inner.dummy_phc) else {
            return;
        };
        // The result is meaningless by construction; only the time spent matters.
        let inner = Arc::clone(&self.inner);
        let _ = self
            .run_blocking(Lane::General, move || {
                compute::check_phc(&inner.memory, &password, &stored)
            })
            .await;
    }

    /// Whether a stored hash is weaker than what [`Self::hash`] would make today.
    fn is_outdated(&self, stored: &PasswordHash, algorithm: Algorithm) -> Result<bool, AuthError> {
        let stored_params = Params::try_from(stored).map_err(|_| AuthError::MalformedHash)?;
        let current = &self.inner.argon2_params;
        let old_version = stored
            .version
            .is_none_or(|version| version < u32::from(Version::V0x13));
        let short_output = stored
            .hash
            .as_ref()
            .is_none_or(|output| output.len() < Params::DEFAULT_OUTPUT_LEN);
        Ok(algorithm != Algorithm::Argon2id
            || old_version
            || short_output
            || stored_params.m_cost() < current.m_cost()
            || stored_params.t_cost() < current.t_cost()
            || stored_params.p_cost() < current.p_cost())
    }

    /// Runs `job` on the blocking pool once a permit is free.
    ///
    /// The permit moves into the blocking closure, so it is released when the work ends, not
    /// when the caller stops waiting: a cancelled login cannot free its slot early while its
    /// hash still runs.
    async fn run_blocking<T, F>(&self, lane: Lane, job: F) -> Result<T, AuthError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = match lane {
            Lane::General => {
                let _waiting = CountGuard::enter(&self.inner.queued);
                Arc::clone(&self.inner.semaphore).acquire_owned().await
            }
            Lane::Trusted => Arc::clone(&self.inner.trusted).acquire_owned().await,
        }
        .map_err(|_| AuthError::HashingTaskFailed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now_running = inner.running.fetch_add(1, Ordering::SeqCst) + 1;
            inner.peak_running.fetch_max(now_running, Ordering::SeqCst);
            let _guard = RunningGuard(&inner.running);
            job()
        })
        .await
        .map_err(|_| AuthError::HashingTaskFailed)
    }
}

/// Counts a waiting job for as long as it waits, even if its caller gives up.
struct CountGuard<'a>(&'a AtomicUsize);

impl<'a> CountGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Decrements the running counter when the job ends, even if it panics.
struct RunningGuard<'a>(&'a AtomicUsize);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Builds the PHC string `verify_dummy` checks against: the current parameters, a fixed salt and
/// an all-zero output. Verifying against it computes a full Argon2id hash with the current
/// parameters, and no password can produce an all-zero output in practice.
fn dummy_phc(params: &Params) -> Result<String, AuthError> {
    let internal = |error: argon2::password_hash::phc::Error| AuthError::Hashing(error.to_string());
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|_| AuthError::MalformedHash)?,
        salt: Some(Salt::new(b"fathom-dummy-salt").map_err(internal)?),
        hash: Some(Output::new(&vec![0_u8; output_len]).map_err(internal)?),
    };
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_validation_refuses_weak_settings() {
        assert!(PasswordParams::default().validate().is_ok());
        let weak_memory = PasswordParams {
            memory_kib: 19_455,
            ..PasswordParams::default()
        };
        let weak_time = PasswordParams {
            iterations: 1,
            ..PasswordParams::default()
        };
        let no_lanes = PasswordParams {
            parallelism: 0,
            ..PasswordParams::default()
        };
        let many_lanes = PasswordParams {
            parallelism: 5,
            ..PasswordParams::default()
        };
        for params in [weak_memory, weak_time, no_lanes, many_lanes] {
            assert!(matches!(
                params.validate(),
                Err(AuthError::InvalidConfig(_))
            ));
            assert!(PasswordHasher::new(params, 1).is_err());
        }
        assert!(PasswordHasher::new(PasswordParams::default(), 0).is_err());
    }

    #[test]
    fn dummy_phc_carries_the_current_parameters() {
        let params = PasswordParams {
            memory_kib: 20_000,
            iterations: 3,
            parallelism: 2,
        };
        let hasher = PasswordHasher::new(params, 1).unwrap();
        let dummy = PasswordHash::new(&hasher.inner.dummy_phc).unwrap();
        assert_eq!(dummy.algorithm, argon2::ARGON2ID_IDENT);
        let stored = Params::try_from(&dummy).unwrap();
        assert_eq!(
            (stored.m_cost(), stored.t_cost(), stored.p_cost()),
            (20_000, 3, 2)
        );
    }

    #[test]
    fn debug_shows_no_secrets() {
        let hasher = PasswordHasher::new(PasswordParams::default(), 2).unwrap();
        let text = format!("{hasher:?}");
        assert!(text.contains("max_concurrent: 2"), "{text}");
        assert!(!text.contains("argon2id"), "{text}");
    }
}
