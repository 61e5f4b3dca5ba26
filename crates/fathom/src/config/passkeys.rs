//! `[auth.passkeys]`: the WebAuthn relying party. Passkeys are off unless `rp_id` is set.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::ConfigError;

/// The longest `auth.passkeys.ceremony_ttl_secs` accepted: ten minutes.
pub const MAX_CEREMONY_TTL_SECS: u64 = 600;

/// The passkey relying party.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasskeysConfig {
    /// The relying party id: the domain passkeys are bound to (`example.com`). Unset: passkeys
    /// are off. Changing it later orphans every registered passkey (authenticators bind them to
    /// this id), so choose the registrable domain the site will keep.
    pub rp_id: Option<String>,
    /// The name authenticators show beside the passkey; `rp_id` when unset.
    pub rp_name: Option<String>,
    /// The exact web origins (scheme, host, port) that run the ceremonies, such as
    /// `https://app.example.com`: https, or http on localhost; each on `rp_id` or a subdomain.
    pub origins: Vec<String>,
    /// How long a ceremony may take between its options and its answer, in seconds.
    pub ceremony_ttl_secs: u64,
}

impl Default for PasskeysConfig {
    fn default() -> Self {
        Self {
            rp_id: None,
            rp_name: None,
            origins: Vec::new(),
            ceremony_ttl_secs: 300,
        }
    }
}

impl PasskeysConfig {
    /// The relying party, checked and built; `None` when passkeys are off.
    pub fn settings(&self) -> Result<Option<fathom_api::PasskeySettings>, ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(format!("auth.passkeys: {m}")));
        let Some(rp_id) = self.rp_id.clone() else {
            if !self.origins.is_empty() || self.rp_name.is_some() {
                return invalid(
                    "`origins` or `rp_name` is set without `rp_id`: set `rp_id` (the site's domain) to enable passkeys, or remove them".into(),
                );
            }
            return Ok(None);
        };
        if self.ceremony_ttl_secs == 0 || self.ceremony_ttl_secs > MAX_CEREMONY_TTL_SECS {
            return invalid(format!(
                "ceremony_ttl_secs is {}; it must be between 1 and {MAX_CEREMONY_TTL_SECS}",
                self.ceremony_ttl_secs
            ));
        }
        let mut origins = Vec::with_capacity(self.origins.len());
        for origin in &self.origins {
            match Url::parse(origin) {
                Ok(url) => origins.push(url),
                Err(e) => {
                    return invalid(format!(
                        "the origin `{origin}` is not a URL ({e}); write it as https://app.example.com"
                    ));
                }
            }
        }
        let rp_name = self.rp_name.clone().unwrap_or_else(|| rp_id.clone());
        let ttl = Duration::from_secs(self.ceremony_ttl_secs);
        fathom_api::PasskeySettings::new(rp_id, rp_name, origins, ttl)
            .map(Some)
            .or_else(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rp_id: Option<&str>, origins: &[&str]) -> PasskeysConfig {
        PasskeysConfig {
            rp_id: rp_id.map(str::to_owned),
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            ..PasskeysConfig::default()
        }
    }

    fn error(c: &PasskeysConfig) -> String {
        c.settings()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn passkeys_are_off_by_default_and_on_with_a_relying_party() {
        assert!(config(None, &[]).settings().is_ok_and(|s| s.is_none()));
        let on = config(
            Some("example.com"),
            &["https://example.com", "https://app.example.com:8443"],
        );
        let settings = on.settings().ok().flatten();
        assert!(settings.is_some_and(|s| s.rp_name == "example.com" && s.origins.len() == 2));
        assert!(
            config(Some("localhost"), &["http://localhost:5173"])
                .settings()
                .is_ok_and(|s| s.is_some())
        );
    }

    #[test]
    fn a_relying_party_that_cannot_work_is_refused_with_the_reason() {
        assert!(error(&config(None, &["https://example.com"])).contains("without `rp_id`"));
        assert!(error(&config(Some("example.com"), &[])).contains("at least one origin"));
        assert!(error(&config(Some("example.com"), &["http://example.com"])).contains("not https"));
        assert!(
            error(&config(Some("example.com"), &["https://example.org"]))
                .contains("not on the relying party id")
        );
        assert!(
            error(&config(Some("example.com"), &["https://evilexample.com"]))
                .contains("not on the relying party id")
        );
        assert!(
            error(&config(Some("example.com"), &["https://example.com/app"]))
                .contains("has a path")
        );
        assert!(error(&config(Some("example.com"), &["example.com"])).contains("is not a URL"));
        let mut slow = config(Some("example.com"), &["https://example.com"]);
        slow.ceremony_ttl_secs = 3600;
        assert!(error(&slow).contains("ceremony_ttl_secs is 3600"));
    }
}
