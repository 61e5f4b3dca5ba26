//! Opaque tokens and API keys: shape, uniqueness and the stored hash.

use std::collections::HashSet;

use fathom_auth::token::{API_KEY_LENGTH, TOKEN_LENGTH};
use fathom_auth::{api_key_prefix, constant_time_eq, generate_api_key, generate_token, hash_token};

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn tokens_are_43_base64url_chars_and_distinct_over_10_000_draws() {
    let mut seen = HashSet::with_capacity(10_000);
    for _ in 0..10_000 {
        let token = generate_token();
        assert_eq!(token.len(), TOKEN_LENGTH);
        assert_eq!(token.len(), 43);
        assert!(is_base64url(&token), "{token}");
        assert!(!token.contains('='));
        assert!(seen.insert(token), "a token repeated");
    }
}

#[test]
fn token_hash_is_stable_lowercase_hex_and_differs_per_token() {
    let token = generate_token();
    let hash = hash_token(&token);
    assert_eq!(hash.len(), 64);
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(hash_token(&token), hash);
    assert_ne!(hash_token(&generate_token()), hash);
    assert!(constant_time_eq(
        hash.as_bytes(),
        hash_token(&token).as_bytes()
    ));
}

#[test]
fn api_keys_have_the_documented_shape() {
    let mut prefixes = HashSet::new();
    for _ in 0..1_000 {
        let (key, prefix) = generate_api_key();
        assert_eq!(key.len(), API_KEY_LENGTH);
        assert_eq!(key.len(), 4 + 8 + 1 + 43);
        assert!(key.starts_with("fth_"), "{key}");
        assert_eq!(prefix.len(), 8);
        assert!(
            prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(&key[4..12], prefix);
        assert_eq!(&key[12..13], "_");
        assert!(is_base64url(&key[13..]));
        assert_eq!(api_key_prefix(&key), Some(prefix.as_str()));
        prefixes.insert(prefix);
    }
    assert_eq!(prefixes.len(), 1_000, "a 41-bit prefix repeated");
}
