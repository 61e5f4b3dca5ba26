//! The crate's one error type, [`AuthError`], and the coarse [`AuthErrorKind`] the API layer maps
//! to a response.
//!
//! No variant carries a password, a token, a key or a hash: the `Display` text is safe to log.
//! Token failures are deliberately split finely here (for logs and tests) but collapse into two
//! kinds, so a client learns only "invalid" or "expired", never which check failed.

use fathom_core::ErrorCode;

use crate::password::PolicyViolation;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A password breaks the password policy (or the hasher's hard length cap).
    #[error("password rejected by policy: {}", .0.code())]
    WeakPassword(PolicyViolation),
    /// Password hashing parameters or policy settings are out of range (a configuration error).
    #[error("invalid auth configuration: {0}")]
    InvalidConfig(&'static str),
    /// A stored password hash is not a PHC string this crate can read.
    #[error("stored password hash is malformed")]
    MalformedHash,
    /// A stored password hash uses an algorithm other than Argon2 and cannot be verified.
    #[error("stored password hash uses an unsupported algorithm")]
    UnsupportedHash,
    /// Argon2 failed while hashing or verifying.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The blocking task that ran the hash panicked or was cancelled at runtime shutdown.
    #[error("password hashing task did not complete")]
    HashingTaskFailed,
    /// A token is not a well-formed JWT, or lacks a required claim.
    #[error("token is malformed")]
    MalformedToken,
    /// A token's header names an algorithm or type other than `EdDSA` / `JWT`.
    #[error("token algorithm or type is not accepted")]
    UnacceptedAlgorithm,
    /// A token names a key id that is not in the key ring.
    #[error("token was signed by an unknown key")]
    UnknownKey,
    /// A token's signature does not verify.
    #[error("token signature is invalid")]
    InvalidSignature,
    /// A token's `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// A token's `nbf` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// A token's `exp` lies further from its `iat` (or from now, if earlier) than the configured
    /// access-token lifetime plus the leeway, however well it is signed.
    #[error("token claims a lifetime longer than configured")]
    LifetimeTooLong,
    /// A token's `iss` is not the configured issuer.
    #[error("token issuer does not match")]
    WrongIssuer,
    /// A token's `aud` is not the configured audience.
    #[error("token audience does not match")]
    WrongAudience,
    /// No key in the ring may sign at this time (all retired, or the ring is empty).
    #[error("no active signing key")]
    NoSigningKey,
    /// A signing key's material is invalid, or the ring is inconsistent (for example a duplicate
    /// key id, or a public key that does not match its private key).
    #[error("invalid signing key: {0}")]
    InvalidKey(String),
    /// Signing a token failed.
    #[error("token signing failed: {0}")]
    Signing(String),
}

/// The coarse class of an [`AuthError`]: what the API layer needs to choose a response.
///
/// `fathom-core` has no `unauthorized` / `invalid_token` codes yet; the lead maps these kinds to
/// codes (and `WWW-Authenticate` headers) in the API crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// The presented token is not acceptable (malformed, forged, wrong key, issuer or audience).
    InvalidToken,
    /// The presented token was valid but has expired (or is not valid yet): the client should
    /// refresh.
    Expired,
    /// A new password breaks the policy; the violation says which rule.
    WeakPassword(PolicyViolation),
    /// A server-side failure (configuration, stored data, key material, hashing): a 500.
    Internal,
}

impl AuthErrorKind {
    /// The existing `fathom-core` code for this kind, where one fits: a weak password is
    /// `validation_failed`, an internal failure is `internal_error`. Token kinds have no code
    /// in the core table yet and return `None`.
    pub const fn core_code(self) -> Option<ErrorCode> {
        match self {
            Self::WeakPassword(_) => Some(ErrorCode::ValidationFailed),
            Self::Internal => Some(ErrorCode::Internal),
            Self::InvalidToken | Self::Expired => None,
        }
    }
}

impl AuthError {
    /// The coarse class of this error.
    pub const fn kind(&self) -> AuthErrorKind {
        match self {
            Self::WeakPassword(violation) => AuthErrorKind::WeakPassword(*violation),
            Self::MalformedToken
            | Self::UnacceptedAlgorithm
            | Self::UnknownKey
            | Self::InvalidSignature
            | Self::LifetimeTooLong
            | Self::WrongIssuer
            | Self::WrongAudience => AuthErrorKind::InvalidToken,
            Self::Expired | Self::NotYetValid => AuthErrorKind::Expired,
            Self::InvalidConfig(_)
            | Self::MalformedHash
            | Self::UnsupportedHash
            | Self::Hashing(_)
            | Self::HashingTaskFailed
            | Self::NoSigningKey
            | Self::InvalidKey(_)
            | Self::Signing(_) => AuthErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_failures_collapse_into_two_kinds() {
        for error in [
            AuthError::MalformedToken,
            AuthError::UnacceptedAlgorithm,
            AuthError::UnknownKey,
            AuthError::InvalidSignature,
            AuthError::LifetimeTooLong,
            AuthError::WrongIssuer,
            AuthError::WrongAudience,
        ] {
            assert_eq!(error.kind(), AuthErrorKind::InvalidToken, "{error}");
            assert_eq!(error.kind().core_code(), None);
        }
        assert_eq!(AuthError::Expired.kind(), AuthErrorKind::Expired);
        assert_eq!(AuthError::NotYetValid.kind(), AuthErrorKind::Expired);
    }

    #[test]
    fn weak_password_and_internal_map_to_existing_codes() {
        let weak = AuthError::WeakPassword(PolicyViolation::TooCommon);
        assert_eq!(
            weak.kind(),
            AuthErrorKind::WeakPassword(PolicyViolation::TooCommon)
        );
        assert_eq!(weak.kind().core_code(), Some(ErrorCode::ValidationFailed));
        assert_eq!(weak.to_string(), "password rejected by policy: too_common");
        let internal = AuthError::Hashing("memory allocation failed".into());
        assert_eq!(internal.kind().core_code(), Some(ErrorCode::Internal));
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        for error in [
            AuthError::MalformedHash,
            AuthError::Expired,
            AuthError::NoSigningKey,
            AuthError::InvalidConfig("memory_kib must be at least 19456"),
        ] {
            let text = error.to_string();
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
