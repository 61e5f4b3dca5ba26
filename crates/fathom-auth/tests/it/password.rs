//! Password hashing and verification through `PasswordHasher`.

use std::time::{Duration, Instant};

use argon2::PasswordHasher as _;
use fathom_auth::password::MAX_PASSWORD_BYTES;
use fathom_auth::{AuthError, PasswordHasher, PasswordParams, PolicyViolation, Verification};

fn hasher() -> PasswordHasher {
    PasswordHasher::new(PasswordParams::default(), 2).expect("default params are valid")
}

/// A PHC string made directly with the argon2 crate, bypassing our parameter floor.
fn raw_hash(algorithm: argon2::Algorithm, m: u32, t: u32, p: u32, password: &str) -> String {
    let params = argon2::Params::new(m, t, p, None).expect("valid raw params");
    argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
        .hash_password(password.as_bytes())
        .expect("raw hash")
        .to_string()
}

const MATCH: Verification = Verification {
    matches: true,
    needs_rehash: false,
};
const MATCH_REHASH: Verification = Verification {
    matches: true,
    needs_rehash: true,
};
const NO_MATCH: Verification = Verification {
    matches: false,
    needs_rehash: false,
};

#[tokio::test]
async fn hash_then_verify_round_trips_and_wrong_password_fails() {
    let hasher = hasher();
    let phc = hasher.hash("correct horse battery staple").await.unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert_eq!(
        hasher.verify("correct horse battery staple", &phc).await,
        Ok(MATCH)
    );
    assert_eq!(
        hasher.verify("correct horse battery stapLe", &phc).await,
        Ok(NO_MATCH)
    );
    assert_eq!(hasher.verify("", &phc).await, Ok(NO_MATCH));
    // A fresh random salt every time.
    let again = hasher.hash("correct horse battery staple").await.unwrap();
    assert_ne!(again, phc);
}

#[tokio::test]
async fn weaker_parameters_ask_for_a_rehash() {
    let hasher = hasher();
    let password = "a reasonably long passphrase";
    let one_pass = raw_hash(argon2::Algorithm::Argon2id, 19_456, 1, 1, password);
    assert_eq!(hasher.verify(password, &one_pass).await, Ok(MATCH_REHASH));
    let less_memory = raw_hash(argon2::Algorithm::Argon2id, 8_192, 2, 1, password);
    assert_eq!(
        hasher.verify(password, &less_memory).await,
        Ok(MATCH_REHASH)
    );
    // A wrong password never asks for a rehash.
    assert_eq!(hasher.verify("wrong", &one_pass).await, Ok(NO_MATCH));

    // Raising the configured cost makes yesterday's hashes outdated.
    let current = hasher.hash(password).await.unwrap();
    let stronger = PasswordHasher::new(
        PasswordParams {
            iterations: 3,
            ..PasswordParams::default()
        },
        1,
    )
    .unwrap();
    assert_eq!(stronger.verify(password, &current).await, Ok(MATCH_REHASH));

    // Stronger-than-current stored parameters are fine as they are.
    let strong = raw_hash(argon2::Algorithm::Argon2id, 19_456, 3, 1, password);
    assert_eq!(hasher.verify(password, &strong).await, Ok(MATCH));
}

#[tokio::test]
async fn other_argon2_variants_verify_but_ask_for_a_rehash() {
    let hasher = hasher();
    let password = "a reasonably long passphrase";
    for algorithm in [argon2::Algorithm::Argon2i, argon2::Algorithm::Argon2d] {
        let phc = raw_hash(algorithm, 19_456, 2, 1, password);
        assert!(!phc.starts_with("$argon2id$"), "{phc}");
        assert_eq!(
            hasher.verify(password, &phc).await,
            Ok(MATCH_REHASH),
            "{phc}"
        );
        assert_eq!(hasher.verify("wrong", &phc).await, Ok(NO_MATCH), "{phc}");
    }
}

#[tokio::test]
async fn foreign_and_malformed_hashes_are_errors_not_mismatches() {
    let hasher = hasher();
    let scrypt =
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
    assert_eq!(
        hasher.verify("password", scrypt).await,
        Err(AuthError::UnsupportedHash)
    );
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    for phc in [
        "",
        "plaintext",
        "$argon2id$",
        bcrypt,
        "$argon2id$v=19$m=x$salt$hash",
    ] {
        assert_eq!(
            hasher.verify("password", phc).await,
            Err(AuthError::MalformedHash),
            "{phc:?}"
        );
    }
}

#[tokio::test]
async fn long_unicode_passwords_are_hashed_whole() {
    let hasher = hasher();
    let p64: String = "🔐ß語é".chars().cycle().take(64).collect();
    let p200: String = "Ωмир 🌍 ça".chars().cycle().take(200).collect();
    assert_eq!(p64.chars().count(), 64);
    assert_eq!(p200.chars().count(), 200);
    for password in [&p64, &p200] {
        let phc = hasher.hash(password).await.unwrap();
        assert_eq!(hasher.verify(password, &phc).await, Ok(MATCH));
    }

    // Differing only in the 100th character: no truncation anywhere (bcrypt would stop at 72
    // bytes and accept this).
    let base: String = "ü".repeat(99);
    let stored = hasher.hash(&format!("{base}a")).await.unwrap();
    assert_eq!(hasher.verify(&format!("{base}a"), &stored).await, Ok(MATCH));
    assert_eq!(
        hasher.verify(&format!("{base}b"), &stored).await,
        Ok(NO_MATCH)
    );
}

#[tokio::test]
async fn oversized_passwords_are_refused_without_hashing_them() {
    let hasher = hasher();
    let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
    assert_eq!(
        hasher.hash(&huge).await,
        Err(AuthError::WeakPassword(PolicyViolation::TooLong {
            max_length: 1024
        }))
    );
    let phc = hasher.hash("x").await.unwrap();
    assert_eq!(hasher.verify(&huge, &phc).await, Ok(NO_MATCH));
    // The largest password the policy allows (1024 four-byte characters) still hashes.
    let largest = "𝔁".repeat(1024);
    assert_eq!(largest.len(), MAX_PASSWORD_BYTES);
    let phc = hasher.hash(&largest).await.unwrap();
    assert_eq!(hasher.verify(&largest, &phc).await, Ok(MATCH));
}

#[tokio::test]
async fn dummy_verification_costs_about_as_much_as_a_real_one() {
    let hasher = hasher();
    let phc = hasher.hash("correct horse battery staple").await.unwrap();
    // Interleave and keep each side's fastest run, so that noise from other test processes on
    // the machine does not decide the outcome.
    let mut real = Duration::MAX;
    let mut dummy = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let outcome = hasher.verify("wrong password here", &phc).await;
        real = real.min(start.elapsed());
        assert_eq!(outcome, Ok(NO_MATCH));

        let start = Instant::now();
        hasher.verify_dummy("wrong password here").await;
        dummy = dummy.min(start.elapsed());
    }
    let ratio = real.as_secs_f64() / dummy.as_secs_f64();
    assert!(
        (1.0 / 3.0..=3.0).contains(&ratio),
        "real {real:?} vs dummy {dummy:?}"
    );
    // And the dummy does real work: a few milliseconds at least, not a no-op.
    assert!(dummy > Duration::from_millis(2), "dummy took {dummy:?}");
}
