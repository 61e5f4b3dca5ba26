//! The password policy: what a new password must satisfy before it is hashed.
//!
//! The rules follow NIST SP 800-63B: a minimum length counted in Unicode scalar values, a generous
//! maximum with no truncation, no composition rules, and a refusal of passwords that are known to
//! be common or equal to the account's email. Each rule has a stable code
//! ([`PolicyViolation::code`]) that clients may match on.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use crate::error::AuthError;

/// The shipped list of common passwords, one per line, lowercase.
const COMMON_PASSWORDS_TEXT: &str = include_str!("../common_passwords.txt");

/// The common passwords as a set, built once on first use. Entries are lowercased again here so
/// that an edit to the text file cannot break the case-insensitive match.
static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    COMMON_PASSWORDS_TEXT
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_lowercase)
        .collect()
});

/// Whether `password` is on the shipped list of common passwords (case-insensitive).
pub fn is_common_password(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.to_lowercase().as_str())
}

/// How many distinct passwords the shipped common-password list holds.
pub fn common_password_count() -> usize {
    COMMON_PASSWORDS.len()
}

/// One broken rule of the [`PasswordPolicy`]. Carries no part of the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Fewer Unicode scalar values than the policy's minimum.
    TooShort {
        /// The policy's minimum length, in characters.
        min_length: usize,
    },
    /// More Unicode scalar values than the policy's maximum.
    TooLong {
        /// The policy's maximum length, in characters.
        max_length: usize,
    },
    /// On the list of common passwords (compared case-insensitively).
    TooCommon,
    /// Equal to the account's email address or to its local part (case-insensitively).
    SameAsEmail,
}

impl PolicyViolation {
    /// The stable machine-readable code of this violation.
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::TooCommon => "too_common",
            Self::SameAsEmail => "same_as_email",
        }
    }
}

impl fmt::Display for PolicyViolation {
    /// A user-facing sentence that says how to fix the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min_length } => write!(
                f,
                "The password is too short. Use at least {min_length} characters."
            ),
            Self::TooLong { max_length } => write!(
                f,
                "The password is too long. Use at most {max_length} characters."
            ),
            Self::TooCommon => f.write_str(
                "The password is one of the most commonly used passwords. Choose a less predictable one.",
            ),
            Self::SameAsEmail => f.write_str(
                "The password must not be your email address. Choose a different password.",
            ),
        }
    }
}

impl std::error::Error for PolicyViolation {}

/// The rules a new password must satisfy.
///
/// Fields are private so that every policy in use went through [`PasswordPolicy::new`]'s
/// validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
}

impl PasswordPolicy {
    /// The default minimum length, in characters.
    pub const DEFAULT_MIN_LENGTH: usize = 12;
    /// The lowest minimum length a policy may be configured with.
    pub const LOWEST_MIN_LENGTH: usize = 8;
    /// The maximum length, in characters. Long passphrases are welcome; this only bounds the work
    /// one request can cause.
    pub const MAX_LENGTH: usize = 1024;

    /// A policy with the given minimum length.
    ///
    /// # Errors
    /// [`AuthError::InvalidConfig`] when `min_length` is below [`Self::LOWEST_MIN_LENGTH`] or
    /// above [`Self::MAX_LENGTH`].
    pub fn new(min_length: usize) -> Result<Self, AuthError> {
        if min_length < Self::LOWEST_MIN_LENGTH {
            return Err(AuthError::InvalidConfig(
                "password min_length must be at least 8",
            ));
        }
        if min_length > Self::MAX_LENGTH {
            return Err(AuthError::InvalidConfig(
                "password min_length must be at most 1024",
            ));
        }
        Ok(Self {
            min_length,
            max_length: Self::MAX_LENGTH,
        })
    }

    /// The minimum length, in Unicode scalar values.
    pub const fn min_length(&self) -> usize {
        self.min_length
    }

    /// The maximum length, in Unicode scalar values.
    pub const fn max_length(&self) -> usize {
        self.max_length
    }

    /// Checks a new password, returning the first broken rule in the order: length, commonness,
    /// email. `email` is the account's address, when known.
    ///
    /// # Errors
    /// The [`PolicyViolation`] that the password breaks.
    pub fn check(&self, password: &str, email: Option<&str>) -> Result<(), PolicyViolation> {
        // Count scalar values, not bytes: "pässwörd" is eight characters to the user.
        let length = password.chars().count();
        if length < self.min_length {
            return Err(PolicyViolation::TooShort {
                min_length: self.min_length,
            });
        }
        if length > self.max_length {
            return Err(PolicyViolation::TooLong {
                max_length: self.max_length,
            });
        }
        let lowered = password.to_lowercase();
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            return Err(PolicyViolation::TooCommon);
        }
        if let Some(email) = email {
            let email = email.trim().to_lowercase();
            let local_part = email.rsplit_once('@').map_or(email.as_str(), |(l, _)| l);
            if lowered == email || (!local_part.is_empty() && lowered == local_part) {
                return Err(PolicyViolation::SameAsEmail);
            }
        }
        Ok(())
    }
}

impl Default for PasswordPolicy {
    /// Minimum 12 characters, maximum 1024.
    fn default() -> Self {
        Self {
            min_length: Self::DEFAULT_MIN_LENGTH,
            max_length: Self::MAX_LENGTH,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(policy: &PasswordPolicy, password: &str, email: Option<&str>) -> &'static str {
        match policy.check(password, email) {
            Ok(()) => "ok",
            Err(violation) => violation.code(),
        }
    }

    #[test]
    fn the_shipped_list_is_large_and_lowercase() {
        assert!(
            common_password_count() >= 300,
            "{}",
            common_password_count()
        );
        for line in COMMON_PASSWORDS_TEXT.lines() {
            assert_eq!(line, line.to_lowercase(), "list entry is not lowercase");
            assert_eq!(line, line.trim(), "list entry has surrounding whitespace");
        }
    }

    #[test]
    fn constructor_rejects_a_minimum_below_eight() {
        assert!(PasswordPolicy::new(7).is_err());
        assert!(PasswordPolicy::new(0).is_err());
        assert!(PasswordPolicy::new(1025).is_err());
        assert_eq!(PasswordPolicy::new(8).map(|p| p.min_length()), Ok(8));
        let default = PasswordPolicy::default();
        assert_eq!((default.min_length(), default.max_length()), (12, 1024));
    }

    #[test]
    fn too_short_counts_unicode_scalar_values_not_bytes() {
        let policy = PasswordPolicy::default();
        assert_eq!(codes(&policy, "short-pw", None), "too_short");
        // Eleven characters, but 33 bytes: still too short.
        assert_eq!("日本語のパスワードです".chars().count(), 11);
        assert_eq!(codes(&policy, "日本語のパスワードです", None), "too_short");
        // Twelve characters of three bytes each: long enough.
        assert_eq!(codes(&policy, "日本語のパスワードですね", None), "ok");
        assert_eq!(
            policy.check("tiny", None),
            Err(PolicyViolation::TooShort { min_length: 12 })
        );
    }

    #[test]
    fn too_long_allows_exactly_the_maximum() {
        let policy = PasswordPolicy::default();
        assert_eq!(codes(&policy, &"x7!q".repeat(256), None), "ok");
        assert_eq!(codes(&policy, &"é".repeat(1024), None), "ok");
        assert_eq!(codes(&policy, &"é".repeat(1025), None), "too_long");
    }

    #[test]
    fn too_common_is_case_insensitive() {
        let policy = PasswordPolicy::default();
        assert_eq!(codes(&policy, "password1234", None), "too_common");
        assert_eq!(codes(&policy, "PassWord1234", None), "too_common");
        assert_eq!(codes(&policy, "QWERTYUIOP123", None), "too_common");
        let lenient = PasswordPolicy::new(8).unwrap_or_default();
        assert_eq!(codes(&lenient, "Password", None), "too_common");
        assert_eq!(codes(&lenient, "iloveyou", None), "too_common");
        assert_eq!(codes(&policy, "correct horse battery staple", None), "ok");
        assert!(is_common_password("LetMeIn"));
        assert!(!is_common_password("g7#Vq!2mZx"));
    }

    #[test]
    fn same_as_email_matches_the_address_and_its_local_part() {
        let policy = PasswordPolicy::default();
        let email = Some("Jane.Doe.Smith@Example.com");
        assert_eq!(
            codes(&policy, "jane.doe.smith@example.com", email),
            "same_as_email"
        );
        assert_eq!(codes(&policy, "JANE.DOE.SMITH", email), "same_as_email");
        assert_eq!(codes(&policy, "jane.doe.smith!", email), "ok");
        assert_eq!(codes(&policy, "jane.doe.smith", None), "ok");
    }

    #[test]
    fn long_and_unicode_passwords_are_accepted() {
        let policy = PasswordPolicy::default();
        let long = "ℌ𝔢𝔩𝔩𝔬 🌍 wörld, ça va? ".repeat(8);
        assert!(long.chars().count() > 64);
        assert_eq!(codes(&policy, &long, None), "ok");
    }

    #[test]
    fn violation_messages_are_sentences_without_the_password() {
        let text = PolicyViolation::TooShort { min_length: 12 }.to_string();
        assert_eq!(
            text,
            "The password is too short. Use at least 12 characters."
        );
        for violation in [
            PolicyViolation::TooLong { max_length: 1024 },
            PolicyViolation::TooCommon,
            PolicyViolation::SameAsEmail,
        ] {
            assert!(violation.to_string().ends_with('.'));
        }
    }
}
