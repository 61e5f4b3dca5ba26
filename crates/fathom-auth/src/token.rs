//! Opaque secrets: session and refresh tokens, API keys, and how they are stored.
//!
//! A token is 32 bytes from the operating system's RNG, written as unpadded base64url (43
//! characters). Only its SHA-256 ([`hash_token`]) is stored, so a leaked database holds no usable
//! token; SHA-256 without salt is enough because the input already has 256 bits of entropy.
//!
//! An API key is `fth_<prefix>_<secret>`: the 8-character prefix is stored in clear to find the
//! key and to show it in a UI, the whole key is stored only as [`hash_token`] of it.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The length of a token from [`generate_token`], in characters.
pub const TOKEN_LENGTH: usize = 43;

/// The fixed start of every API key.
pub const API_KEY_TAG: &str = "fth_";

/// The length of an API key's visible prefix, in characters.
pub const API_KEY_PREFIX_LENGTH: usize = 8;

/// The length of a whole API key: tag, prefix, separator and token.
pub const API_KEY_LENGTH: usize = API_KEY_TAG.len() + API_KEY_PREFIX_LENGTH + 1 + TOKEN_LENGTH;

/// The alphabet of API key prefixes: no `_` or `-`, so a prefix is easy to select and never
/// confused with the separators.
const PREFIX_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `buffer` from the operating system's RNG.
///
/// # Panics
/// If the operating system cannot provide randomness. There is no safe fallback for a secret,
/// so this is treated like memory exhaustion.
pub(crate) fn fill_random(buffer: &mut [u8]) {
    getrandom::fill(buffer).expect("the operating system's random number generator failed");
}

/// A fresh opaque token: 32 random bytes as unpadded base64url, 43 characters.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn generate_token() -> String {
    let mut bytes = zeroize::Zeroizing::new([0_u8; 32]);
    fill_random(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// The storage form of a token: its SHA-256 as 64 lowercase hex digits.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Compares two byte strings in time independent of their contents (the length is not treated
/// as secret: inputs of different lengths compare unequal at once).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A fresh API key and its visible prefix: (`fth_<prefix>_<secret>`, `<prefix>`).
///
/// Store the prefix in clear and [`hash_token`] of the full key; show the full key once.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn generate_api_key() -> (String, String) {
    let prefix = random_prefix();
    let key = format!("{API_KEY_TAG}{prefix}_{}", generate_token());
    (key, prefix)
}

/// The visible prefix of a well-formed API key, or `None` when `key` does not have the shape
/// `fth_<8 of [a-z0-9]>_<43 of base64url>`. Use it to look the key up before comparing hashes.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_TAG)?;
    let prefix = rest.get(..API_KEY_PREFIX_LENGTH)?;
    let secret = rest.get(API_KEY_PREFIX_LENGTH..)?.strip_prefix('_')?;
    let prefix_ok = prefix.bytes().all(|b| PREFIX_ALPHABET.contains(&b));
    let secret_ok = secret.len() == TOKEN_LENGTH
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then_some(prefix)
}

/// Eight characters drawn uniformly from [`PREFIX_ALPHABET`] (41 bits).
fn random_prefix() -> String {
    let mut prefix = String::with_capacity(API_KEY_PREFIX_LENGTH);
    let mut pool = [0_u8; 32];
    while prefix.len() < API_KEY_PREFIX_LENGTH {
        fill_random(&mut pool);
        // Rejection sampling: 252 is the largest multiple of 36 below 256, so `b % 36` is
        // uniform over the bytes kept.
        for &byte in pool.iter().filter(|&&b| b < 252) {
            if prefix.len() == API_KEY_PREFIX_LENGTH {
                break;
            }
            prefix.push(char::from(PREFIX_ALPHABET[usize::from(byte % 36)]));
        }
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_token_is_sha256_hex() {
        // SHA-256 of the empty string and of "abc" (FIPS 180-2 test vectors).
        assert_eq!(
            hash_token(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares_contents_and_length() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
        assert!(!constant_time_eq(b"same!", b"same"));
    }

    #[test]
    fn api_key_prefix_refuses_malformed_keys() {
        let (key, prefix) = generate_api_key();
        assert_eq!(api_key_prefix(&key), Some(prefix.as_str()));
        assert_eq!(api_key_prefix(&key[..key.len() - 1]), None);
        assert_eq!(api_key_prefix(&format!("{key}x")), None);
        assert_eq!(api_key_prefix(&key.replacen("fth_", "fth-", 1)), None);
        assert_eq!(api_key_prefix(&key.to_uppercase()), None);
        assert_eq!(api_key_prefix("fth_"), None);
        assert_eq!(api_key_prefix("fth_é"), None);
        assert_eq!(api_key_prefix(""), None);
    }
}
