//! The Argon2 computations themselves, over reused working memory.
//!
//! Each hash needs `m` KiB of working memory (19 MiB by default). Letting the argon2 crate
//! allocate and free it on every login, from whichever blocking thread runs it, leaves the
//! allocator holding freed 19 MiB blocks in one arena per thread: a login flood grew the
//! process to over 600 MiB that it never gave back. [`MemoryPool`] keeps the buffers instead,
//! one per concurrently running hash (the hasher's permits bound how many exist), and hands
//! them out again, so memory stays at `permits × m` however many logins arrive.

use std::sync::Mutex;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::AuthError;
use crate::token::{constant_time_eq, fill_random};

/// Bytes of random salt in new hashes (the argon2 crate's recommendation).
const SALT_BYTES: usize = 16;

/// Working memory for Argon2, reused across hashes.
#[derive(Default)]
pub(super) struct MemoryPool {
    buffers: Mutex<Vec<Vec<Block>>>,
}

impl MemoryPool {
    /// Runs `job` with exactly `blocks` blocks of working memory.
    fn with<T>(&self, blocks: usize, job: impl FnOnce(&mut [Block]) -> T) -> T {
        let mut buffer = self
            .buffers
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default();
        if buffer.len() < blocks {
            buffer.resize(blocks, Block::new());
        }
        let result = job(&mut buffer[..blocks]);
        if let Ok(mut pool) = self.buffers.lock() {
            pool.push(buffer);
        }
        result
    }

    /// How many buffers the pool holds (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buffers.lock().map_or(0, |pool| pool.len())
    }
}

fn internal(error: impl std::fmt::Display) -> AuthError {
    AuthError::Hashing(error.to_string())
}

/// Hashes `password` with Argon2id and `params` and a fresh random salt, into a PHC string.
pub(super) fn hash_phc(
    pool: &MemoryPool,
    params: &Params,
    password: &[u8],
) -> Result<String, AuthError> {
    let mut salt = [0_u8; SALT_BYTES];
    fill_random(&mut salt);
    let mut output = vec![0_u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    pool.with(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password, &salt, &mut output, memory)
    })
    .map_err(internal)?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(internal)?,
        salt: Some(Salt::new(&salt).map_err(internal)?),
        hash: Some(Output::new(&output).map_err(internal)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` produces `stored`, computed with the stored algorithm, version,
/// parameters and salt; the outputs are compared in constant time.
pub(super) fn check_phc(
    pool: &MemoryPool,
    password: &[u8],
    stored: &PasswordHash,
) -> Result<bool, AuthError> {
    let algorithm =
        Algorithm::try_from(stored.algorithm.as_str()).map_err(|_| AuthError::UnsupportedHash)?;
    let version = stored
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| AuthError::MalformedHash)?
        .unwrap_or_default();
    let params = Params::try_from(stored).map_err(|_| AuthError::MalformedHash)?;
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Err(AuthError::MalformedHash);
    };
    let mut output = vec![0_u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    pool.with(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut output, memory)
    })
    .map_err(internal)?;
    Ok(constant_time_eq(&output, expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher as _;

    use super::*;

    fn small() -> Params {
        Params::new(64, 2, 1, None).unwrap()
    }

    #[test]
    fn hashes_verify_both_ways_with_the_argon2_crate() {
        let pool = MemoryPool::default();
        let ours = hash_phc(&pool, &small(), b"a password").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(check_phc(&pool, b"a password", &parsed).unwrap());
        assert!(!check_phc(&pool, b"another", &parsed).unwrap());
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, small())
            .hash_password(b"a password")
            .unwrap()
            .to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(check_phc(&pool, b"a password", &parsed).unwrap());
        assert!(!check_phc(&pool, b"a passwore", &parsed).unwrap());
    }

    #[test]
    fn the_pool_reuses_one_buffer_for_sequential_hashes() {
        let pool = MemoryPool::default();
        for _ in 0..5 {
            hash_phc(&pool, &small(), b"x").unwrap();
        }
        assert_eq!(pool.len(), 1);
    }
}
