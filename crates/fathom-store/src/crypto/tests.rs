//! Unit and property tests of the key ring: round trips, binding to the value's place, tamper
//! and truncation refusals, key-file parsing, and nonce uniqueness.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

fn ring() -> KeyRing {
    KeyRing::parse(&KeyRing::generate_file("k1").expect("random")).expect("generated file parses")
}

/// The same key file with its data key's line naming no AEAD, as key files written before
/// AES-256-GCM-SIV did: XChaCha20-Poly1305.
fn xchacha_ring() -> KeyRing {
    let text = KeyRing::generate_file("k1").expect("random");
    let text = text.replace(" aes-256-gcm-siv", "");
    KeyRing::parse(&text).expect("a line without an AEAD parses")
}

/// Both AEADs a data key may name.
fn rings() -> [KeyRing; 2] {
    [ring(), xchacha_ring()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn what_is_sealed_opens_to_itself(text in "\\PC{0,200}", record in "[a-f0-9-]{36}") {
        for ring in rings() {
        let sealed = ring.seal("people", "ssn", &record, &text).expect("seal");
        prop_assert!(sealed.starts_with("fe1:k1:"));
        prop_assert!(text.is_empty() || !sealed.contains(&text) || text.len() < 4);
        prop_assert_eq!(&ring.open("people", "ssn", &record, &sealed).expect("open"), &text);
        }
    }

    #[test]
    fn a_value_moved_to_another_place_does_not_open(
        text in "\\PC{1,50}",
        other in prop_oneof![Just(0usize), Just(1), Just(2)],
    ) {
        for ring in rings() {
        let sealed = ring.seal("people", "ssn", "rec-1", &text).expect("seal");
        let (collection, field, record) = match other {
            0 => ("persons", "ssn", "rec-1"),
            1 => ("people", "tax_id", "rec-1"),
            _ => ("people", "ssn", "rec-2"),
        };
        prop_assert_eq!(
            ring.open(collection, field, record, &sealed),
            Err(CryptoError::Tampered("k1".into()))
        );
        }
    }

    #[test]
    fn any_altered_or_truncated_ciphertext_is_refused(text in "\\PC{0,40}", at in any::<usize>(), cut in 1usize..10) {
        for ring in rings() {
        let sealed = ring.seal("people", "ssn", "rec-1", &text).expect("seal");
        let prefix = "fe1:k1:".len();
        let mut body = URL_SAFE_NO_PAD.decode(&sealed[prefix..]).expect("base64");
        let at = at % body.len();
        body[at] ^= 0x01;
        let altered = format!("fe1:k1:{}", URL_SAFE_NO_PAD.encode(&body));
        prop_assert!(ring.open("people", "ssn", "rec-1", &altered).is_err());
        let truncated = &sealed[..sealed.len().saturating_sub(cut)];
        prop_assert!(ring.open("people", "ssn", "rec-1", truncated).is_err());
        }
    }
}

#[test]
fn another_key_file_cannot_open_and_an_unknown_key_is_named() {
    let (a, b) = (ring(), ring());
    let sealed = a.seal("c", "f", "r", "secret").expect("seal");
    assert_eq!(
        b.open("c", "f", "r", &sealed),
        Err(CryptoError::Tampered("k1".into()))
    );
    let other = KeyRing::parse(&KeyRing::generate_file("k2").expect("random")).expect("parse");
    assert_eq!(
        other.open("c", "f", "r", &sealed),
        Err(CryptoError::UnknownKey("k1".into()))
    );
    assert_eq!(
        a.open("c", "f", "r", "plain text"),
        Err(CryptoError::Malformed)
    );
    assert_eq!(
        a.open("c", "f", "r", "fe1:k1:AAAA"),
        Err(CryptoError::Malformed)
    );
}

#[test]
fn the_last_data_key_writes_and_every_data_key_reads() {
    let first = KeyRing::generate_file("old").expect("random");
    let old = KeyRing::parse(&first).expect("parse");
    let sealed = old.seal("c", "f", "r", "v").expect("seal");
    let second = KeyRing::generate_file("new").expect("random");
    let new_line = second
        .lines()
        .find(|l| l.starts_with("data "))
        .expect("data line");
    let both = KeyRing::parse(&format!("{first}{new_line}\n")).expect("parse");
    assert_eq!(both.writing_key(), "new");
    assert_eq!(
        both.open("c", "f", "r", &sealed).expect("old key reads"),
        "v"
    );
    assert!(
        both.seal("c", "f", "r", "v")
            .expect("seal")
            .starts_with("fe1:new:")
    );
    assert_eq!(both.key_ids(), vec!["new".to_owned(), "old".to_owned()]);
}

#[test]
fn blind_indexes_are_equal_for_equal_values_in_one_field_only() {
    let ring = ring();
    let a = ring
        .blind("people", "email", "ada@example.com")
        .expect("blind");
    assert_eq!(
        a,
        ring.blind("people", "email", "ada@example.com")
            .expect("blind")
    );
    assert_ne!(
        a,
        ring.blind("people", "email", "bob@example.com")
            .expect("blind")
    );
    assert_ne!(
        a,
        ring.blind("people", "backup_email", "ada@example.com")
            .expect("blind")
    );
    assert_ne!(
        a,
        ring.blind("persons", "email", "ada@example.com")
            .expect("blind")
    );
}

#[test]
fn key_files_are_checked_line_by_line_without_echoing_keys() {
    let cases = [
        ("", KeyRingError::NoDataKey),
        ("# only a comment\n", KeyRingError::NoDataKey),
        (
            "data k1\n",
            KeyRingError::Line {
                line: 1,
                message: "expected `data <id> <base64 key> [aes-256-gcm-siv|xchacha20-poly1305]` or `blind <id> <base64 key>`".into(),
            },
        ),
        (
            "data k:1 AAAA\n",
            KeyRingError::Line {
                line: 1,
                message: "key id `k:1` must be 1 to 32 letters, digits, `_` or `-`".into(),
            },
        ),
        (
            "\ndata k1 not-base64!\n",
            KeyRingError::Line {
                line: 2,
                message: "the key `k1` is not valid base64".into(),
            },
        ),
        (
            "data k1 AAAA\n",
            KeyRingError::Line {
                line: 1,
                message: "the key `k1` must be 32 bytes, it has 3".into(),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(KeyRing::parse(text).err(), Some(expected), "{text:?}");
    }
    let key = STANDARD.encode([7u8; 32]);
    let twice = format!("data k1 {key}\ndata k1 {key}\n");
    assert!(matches!(
        KeyRing::parse(&twice),
        Err(KeyRingError::Line { line: 2, .. })
    ));
    let two_blind = format!("data k1 {key}\nblind b1 {key}\nblind b2 {key}\n");
    assert!(matches!(
        KeyRing::parse(&two_blind),
        Err(KeyRingError::Line { line: 3, .. })
    ));
    let debug = format!(
        "{:?}",
        KeyRing::parse(&format!("data k1 {key}\n")).expect("parse")
    );
    assert!(!debug.contains(&key), "{debug}");
}

/// A million nonces from the generator every seal draws from never repeat, and real seals
/// carry distinct nonces too (20,000 full encryptions: a million full ones take minutes in an
/// unoptimised test build on a loaded machine).
#[test]
fn a_million_nonces_never_repeat() {
    let mut seen: HashSet<[u8; NONCE_LEN]> = HashSet::with_capacity(1_000_000);
    for n in 0..1_000_000u32 {
        assert!(
            seen.insert(draw_nonce().expect("random")),
            "nonce repeated after {n} draws"
        );
    }
    let ring = ring();
    let mut sealed_nonces: HashSet<[u8; NONCE_LEN]> = HashSet::with_capacity(20_000);
    for n in 0..20_000u32 {
        let sealed = ring.seal("c", "f", "r", "v").expect("seal");
        let body = URL_SAFE_NO_PAD
            .decode(&sealed["fe1:k1:".len()..])
            .expect("base64");
        let nonce: [u8; NONCE_LEN] = body[..NONCE_LEN].try_into().expect("nonce");
        assert!(
            sealed_nonces.insert(nonce),
            "a seal repeated a nonce after {n}"
        );
    }
}

#[test]
fn each_data_key_names_its_aead_and_old_lines_stay_xchacha() {
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let siv = KeyRing::parse(&format!("data a {key} aes-256-gcm-siv")).expect("siv");
    let chacha = KeyRing::parse(&format!("data a {key}")).expect("no AEAD named");
    let named = KeyRing::parse(&format!("data a {key} xchacha20-poly1305")).expect("named");
    // The body holds the nonce, the ciphertext and the tag: 12 + 5 + 16 bytes under GCM-SIV,
    // 24 + 5 + 16 under XChaCha20-Poly1305.
    let body = |sealed: &str| {
        URL_SAFE_NO_PAD
            .decode(&sealed["fe1:a:".len()..])
            .expect("b64")
            .len()
    };
    let by_siv = siv.seal("c", "f", "r", "hello").expect("seal");
    let by_chacha = chacha.seal("c", "f", "r", "hello").expect("seal");
    assert_eq!(body(&by_siv), 33);
    assert_eq!(body(&by_chacha), 45);
    assert_eq!(
        named.open("c", "f", "r", &by_chacha).expect("same AEAD"),
        "hello"
    );
    // A value sealed under one AEAD never opens as the other, even with the same key bytes.
    assert!(chacha.open("c", "f", "r", &by_siv).is_err());
    assert!(siv.open("c", "f", "r", &by_chacha).is_err());
    let unknown = KeyRing::parse(&format!("data a {key} rot13")).expect_err("unknown AEAD");
    assert!(
        unknown.to_string().contains("unknown AEAD `rot13`"),
        "{unknown}"
    );
    let blind = KeyRing::parse(&format!("data a {key}\nblind b {key} aes-256-gcm-siv"))
        .expect_err("a blind key names no AEAD");
    assert!(blind.to_string().starts_with("line 2:"), "{blind}");
    assert!(
        KeyRing::generate_file("k")
            .expect("random")
            .contains(" aes-256-gcm-siv\n")
    );
}
