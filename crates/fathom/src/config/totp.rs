//! `[auth.totp]`: the TOTP second factor (issuer shown by authenticator apps, challenge lifetime,
//! attempt limits, recovery codes).

use std::time::Duration;

use fathom_api::TotpSettings;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// TOTP second-factor settings (docs/IDENTITY.md, "TOTP second factor").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TotpConfig {
    /// The issuer authenticator apps show next to the account (no `:`).
    pub issuer: String,
    /// How long the challenge of a password sign-in waits for its second factor.
    pub challenge_ttl_secs: u64,
    /// Codes one challenge may be tried with before it dies.
    pub challenge_attempts: u32,
    /// Wrong second factors for one account, across challenges, before its second factor is
    /// refused for `lockout_minutes`.
    pub account_attempts: u32,
    /// How long that refusal lasts.
    pub lockout_minutes: u64,
    /// Recovery codes given at confirmation and renewal.
    pub recovery_codes: usize,
    /// How long an enrolment waits for its confirming code.
    pub enrolment_ttl_secs: u64,
}

impl Default for TotpConfig {
    fn default() -> Self {
        let settings = TotpSettings::default();
        Self {
            issuer: settings.issuer,
            challenge_ttl_secs: settings.challenge_ttl.as_secs(),
            challenge_attempts: settings.challenge_attempts,
            account_attempts: settings.account_attempts,
            lockout_minutes: settings.lockout.as_secs() / 60,
            recovery_codes: settings.recovery_codes,
            enrolment_ttl_secs: settings.enrolment_ttl.as_secs(),
        }
    }
}

impl TotpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.issuer.trim().is_empty() || self.issuer.contains(':') || self.issuer.len() > 64 {
            return invalid(
                "auth.totp.issuer must be 1 to 64 characters without `:` (authenticator apps read `issuer:account`)",
            );
        }
        if !(1..=3600).contains(&self.challenge_ttl_secs) {
            return invalid("auth.totp.challenge_ttl_secs must be between 1 and 3600");
        }
        if !(1..=20).contains(&self.challenge_attempts) {
            return invalid("auth.totp.challenge_attempts must be between 1 and 20");
        }
        if !(1..=100).contains(&self.account_attempts) || self.lockout_minutes == 0 {
            return invalid(
                "auth.totp.account_attempts must be between 1 and 100, and auth.totp.lockout_minutes positive",
            );
        }
        if !(1..=50).contains(&self.recovery_codes) {
            return invalid("auth.totp.recovery_codes must be between 1 and 50");
        }
        if !(30..=86_400).contains(&self.enrolment_ttl_secs) {
            return invalid("auth.totp.enrolment_ttl_secs must be between 30 and 86400");
        }
        Ok(())
    }

    /// The settings the API runs with.
    pub fn settings(&self) -> TotpSettings {
        TotpSettings {
            issuer: self.issuer.trim().to_owned(),
            challenge_ttl: Duration::from_secs(self.challenge_ttl_secs),
            challenge_attempts: self.challenge_attempts,
            account_attempts: self.account_attempts,
            lockout: Duration::from_secs(self.lockout_minutes * 60),
            recovery_codes: self.recovery_codes,
            enrolment_ttl: Duration::from_secs(self.enrolment_ttl_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_an_issuer_with_a_colon_is_not() {
        let mut totp = TotpConfig::default();
        assert!(totp.validate().is_ok());
        assert_eq!(totp.settings().issuer, "Fathom");
        totp.issuer = "Acme:Corp".into();
        assert!(totp.validate().is_err());
    }
}
