//! The secrets of the TOTP factor: new TOTP secrets and their `otpauth://` URI (RFC 6238 with
//! the defaults every authenticator app reads: SHA-1, 6 digits, 30 s steps, one step of skew),
//! code checking, and recovery codes (random, shown once, stored as SHA-256 hashes).

use fathom_auth::hash_token;
use totp_rs::{Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// Bytes of a new TOTP secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// Characters of a recovery code (5 bits each: 60 bits of entropy), shown in groups of four.
const RECOVERY_CHARS: usize = 12;
/// The recovery codes' alphabet: lowercase letters and digits without the look-alikes `l`, `o`,
/// `0` and `1`, 32 symbols, so every character carries exactly 5 bits.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Digits of a TOTP code.
pub(super) const DIGITS: usize = 6;

fn random(buffer: &mut [u8]) -> Result<(), ApiError> {
    getrandom::fill(buffer)
        .map_err(|e| ApiError::internal(format!("the OS random source failed: {e}")))
}

/// A fresh secret in base32 (the form stored, sealed, and put in the URI).
pub(super) fn new_secret() -> Result<Zeroizing<String>, ApiError> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    random(bytes.as_mut())?;
    Ok(Zeroizing::new(Secret::from(*bytes).to_base32()))
}

/// The TOTP of a stored secret, labelled `issuer:account` for the URI.
pub(super) fn totp(secret: &str, issuer: &str, account: &str) -> Result<Totp, ApiError> {
    let secret = Secret::try_from_base32(secret)
        .map_err(|_| ApiError::internal("a stored TOTP secret is not base32"))?;
    // A colon would end the label's issuer part; no email needs one.
    let account = account.replace(':', "_");
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(|e| ApiError::internal(format!("building a TOTP: {e}")))
}

/// The `otpauth://totp/...` URI of a secret (what a QR code for an authenticator app holds).
pub(super) fn uri(totp: &Totp) -> Result<String, ApiError> {
    totp.to_url()
        .map_err(|e| ApiError::internal(format!("writing the otpauth URI: {e}")))
}

/// Whether `code` has the shape of a TOTP code (else it is taken as a recovery code).
pub(super) fn is_totp_code(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The time step a TOTP code matches now (within one step of skew), if any. The comparison is
/// the crate's; what is compared is only as secret as a 6-digit code, and replay is refused by
/// the caller through the last accepted step.
pub(super) fn matching_step(totp: &Totp, code: &str) -> Option<i64> {
    totp.check_current(code)
        .and_then(|step| i64::try_from(step).ok())
}

/// `count` new recovery codes, formatted `xxxx-xxxx-xxxx`, with the hashes to store.
pub(super) fn recovery_codes(count: usize) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let mut bytes = Zeroizing::new([0u8; 8]);
        random(bytes.as_mut())?;
        let mut bits = u64::from_le_bytes(*bytes);
        let mut code = String::with_capacity(RECOVERY_CHARS + 2);
        for i in 0..RECOVERY_CHARS {
            if i > 0 && i % 4 == 0 {
                code.push('-');
            }
            code.push(char::from(RECOVERY_ALPHABET[(bits & 31) as usize]));
            bits >>= 5;
        }
        codes.push(code);
    }
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    Ok((codes, hashes))
}

/// The stored form of a recovery code as typed: case, spaces and dashes do not matter.
pub(super) fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    hash_token(&normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_hash_as_typed_loosely() {
        let (codes, hashes) = recovery_codes(10).unwrap();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        for (code, hash) in codes.iter().zip(&hashes) {
            assert_eq!(code.len(), RECOVERY_CHARS + 2, "{code}");
            assert_eq!(&recovery_hash(&code.to_uppercase().replace('-', " ")), hash);
        }
    }

    #[test]
    fn a_new_secret_checks_its_own_codes_and_writes_a_uri() {
        let secret = new_secret().unwrap();
        let totp = totp(&secret, "Fathom", "ada@example.com").unwrap();
        let code = totp.generate_current().to_string();
        assert!(is_totp_code(&code));
        assert!(matching_step(&totp, &code).is_some());
        let uri = uri(&totp).unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Fathom:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", secret.as_str())),
            "{uri}"
        );
    }
}
