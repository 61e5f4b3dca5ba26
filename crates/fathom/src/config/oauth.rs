//! `[oauth]`: OAuth2 / OpenID Connect sign-in providers (docs/IDENTITY.md). Each provider is a
//! generic OIDC issuer, or a preset (`google`, `github`) whose URLs may be overridden.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use fathom_api::oauth::{OAuthSettings, Provider, ProviderKind};
use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_API: &str = "https://api.github.com";

/// Sign-in with external providers; off while `providers` is empty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// Fathom's public base URL, which the providers redirect back to (required with providers).
    pub public_url: String,
    /// The client redirect URIs (single-page and mobile apps) Fathom may redirect to with its
    /// code, compared character for character.
    pub redirect_uris: Vec<String>,
    /// How long a sign-in may wait for the provider's callback.
    pub flow_ttl_secs: u64,
    /// How long one of Fathom's authorization codes lives.
    pub code_ttl_secs: u64,
    /// The providers by name (the name appears in the routes).
    pub providers: BTreeMap<String, ProviderConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            redirect_uris: Vec::new(),
            flow_ttl_secs: 600,
            code_ttl_secs: 60,
            providers: BTreeMap::new(),
        }
    }
}

/// The kind of a provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKindConfig {
    /// Any OpenID Connect provider, by `issuer`.
    #[default]
    Oidc,
    /// Google (OpenID Connect; `issuer` defaults to Google's).
    Google,
    /// GitHub (OAuth2 without OIDC).
    Github,
}

/// One provider (`[oauth.providers.<name>]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKindConfig,
    /// The OpenID Connect issuer (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// A file holding the client secret (also `FATHOM_OAUTH__PROVIDERS__<NAME>__CLIENT_SECRET_FILE`).
    pub client_secret_file: Option<PathBuf>,
    /// The scopes asked for; the preset's when empty.
    pub scopes: Vec<String>,
    /// GitHub's endpoints, overridable (GitHub Enterprise, tests).
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub api_url: Option<String>,
}

fn invalid<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(message))
}

/// Whether `url` is https, or http to this machine (a development or test provider).
fn https_or_loopback(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => parsed.host_str().is_some(),
        "http" => matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        _ => false,
    }
}

impl OAuthConfig {
    /// Reads each `client_secret_file` into `client_secret`.
    pub(super) fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        for (name, provider) in &mut self.providers {
            let Some(path) = &provider.client_secret_file else {
                continue;
            };
            if provider.client_secret.is_some() {
                return invalid(format!(
                    "both oauth.providers.{name}.client_secret and client_secret_file are set; hint: keep only one"
                ));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "oauth.providers.{name}.client_secret_file: cannot read {}: {e}; hint: check the path and its permissions",
                    path.display()
                ))
            })?;
            provider.client_secret = Some(Secret::new(text.trim()));
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=3600).contains(&self.flow_ttl_secs) {
            return invalid(format!(
                "oauth.flow_ttl_secs is {}, but must be between 60 and 3600; hint: 600 gives ten minutes to sign in at the provider",
                self.flow_ttl_secs
            ));
        }
        if !(10..=600).contains(&self.code_ttl_secs) {
            return invalid(format!(
                "oauth.code_ttl_secs is {}, but must be between 10 and 600; hint: 60 is plenty for an app to redeem its code",
                self.code_ttl_secs
            ));
        }
        for uri in &self.redirect_uris {
            let parsed = url::Url::parse(uri).map_err(|_| {
                ConfigError::Invalid(format!(
                    "oauth.redirect_uris has {uri:?}, which is not an absolute URI; hint: https://app.example.com/callback, or com.example.app:/oauth for a mobile app"
                ))
            })?;
            if parsed.fragment().is_some() || parsed.scheme() == "http" && !https_or_loopback(uri) {
                return invalid(format!(
                    "oauth.redirect_uris has {uri:?}: a redirect URI has no fragment, and plain http only to localhost; hint: use https"
                ));
            }
        }
        if self.providers.is_empty() {
            return Ok(());
        }
        if !https_or_loopback(&self.public_url) {
            return invalid(format!(
                "oauth.public_url is {:?}, but providers are configured and need Fathom's public https URL to redirect back to; hint: https://api.example.com",
                self.public_url
            ));
        }
        if self.redirect_uris.is_empty() {
            return invalid("oauth.redirect_uris is empty, but providers are configured; hint: list your apps' redirect URIs".into());
        }
        for (name, provider) in &self.providers {
            provider.validate(name)?;
        }
        Ok(())
    }

    /// The API's settings (an HTTP client is built when providers are configured).
    pub fn settings(&self) -> anyhow::Result<OAuthSettings> {
        if self.providers.is_empty() {
            return Ok(OAuthSettings::default());
        }
        let providers = self
            .providers
            .iter()
            .map(|(name, p)| p.provider(name))
            .collect();
        OAuthSettings::new(
            providers,
            self.redirect_uris.clone(),
            self.public_url.clone(),
            Duration::from_secs(self.flow_ttl_secs),
            Duration::from_secs(self.code_ttl_secs),
        )
        .map_err(anyhow::Error::msg)
    }
}

impl ProviderConfig {
    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let key = format!("oauth.providers.{name}");
        if name.is_empty()
            || name.len() > 32
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return invalid(format!(
                "{key}: a provider name is 1 to 32 of a-z 0-9 - _ (it appears in URLs); hint: google, github, company-sso"
            ));
        }
        if self.client_id.is_empty() {
            return invalid(format!(
                "{key}.client_id is required; hint: the client id the provider gave you"
            ));
        }
        if self
            .client_secret
            .as_ref()
            .is_none_or(|s| s.expose().is_empty())
        {
            return invalid(format!(
                "{key}.client_secret is required; hint: set client_secret_file (or FATHOM_OAUTH__PROVIDERS__{}__CLIENT_SECRET_FILE) to a file holding it",
                name.to_ascii_uppercase()
            ));
        }
        let urls: Vec<(&str, &Option<String>)> = match self.kind {
            ProviderKindConfig::Oidc => {
                if self.issuer.is_none() {
                    return invalid(format!(
                        "{key}.issuer is required for kind = \"oidc\"; hint: the issuer URL, such as https://login.example.com"
                    ));
                }
                vec![("issuer", &self.issuer)]
            }
            ProviderKindConfig::Google => vec![("issuer", &self.issuer)],
            ProviderKindConfig::Github => vec![
                ("authorize_url", &self.authorize_url),
                ("token_url", &self.token_url),
                ("api_url", &self.api_url),
            ],
        };
        for (field, url) in urls {
            if let Some(url) = url
                && !https_or_loopback(url)
            {
                return invalid(format!(
                    "{key}.{field} is {url:?}, which is not an https URL (plain http only to localhost)"
                ));
            }
        }
        Ok(())
    }

    fn provider(&self, name: &str) -> Provider {
        let or = |value: &Option<String>, default: &str| {
            value.clone().unwrap_or_else(|| default.to_owned())
        };
        let (kind, default_scopes): (ProviderKind, &[&str]) = match self.kind {
            ProviderKindConfig::Oidc | ProviderKindConfig::Google => (
                ProviderKind::Oidc {
                    issuer: or(&self.issuer, GOOGLE_ISSUER),
                },
                &["openid", "email", "profile"],
            ),
            ProviderKindConfig::Github => (
                ProviderKind::Github {
                    authorize_url: or(&self.authorize_url, GITHUB_AUTHORIZE),
                    token_url: or(&self.token_url, GITHUB_TOKEN),
                    api_url: or(&self.api_url, GITHUB_API),
                },
                &["read:user", "user:email"],
            ),
        };
        let scopes = if self.scopes.is_empty() {
            default_scopes.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.scopes.clone()
        };
        Provider::new(
            name.to_owned(),
            kind,
            self.client_id.clone(),
            self.client_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
            scopes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(kind: ProviderKindConfig) -> OAuthConfig {
        let mut config = OAuthConfig {
            public_url: "https://api.example.com".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..OAuthConfig::default()
        };
        config.providers.insert(
            "p".into(),
            ProviderConfig {
                kind,
                issuer: Some("https://login.example.com".into()),
                client_id: "id".into(),
                client_secret: Some(Secret::new("secret")),
                ..ProviderConfig::default()
            },
        );
        config
    }

    fn refusal(config: &OAuthConfig) -> String {
        match config.validate() {
            Err(ConfigError::Invalid(message)) => message,
            Ok(()) => panic!("accepted: {config:?}"),
        }
    }

    #[test]
    fn a_provider_needs_a_secret_an_https_issuer_and_somewhere_to_return() {
        assert!(configured(ProviderKindConfig::Oidc).validate().is_ok());
        let mut config = configured(ProviderKindConfig::Oidc);
        config.providers.get_mut("p").expect("p").client_secret = None;
        assert!(refusal(&config).contains("client_secret_file"));
        let mut config = configured(ProviderKindConfig::Oidc);
        config.providers.get_mut("p").expect("p").issuer = Some("http://login.example.com".into());
        assert!(refusal(&config).contains("not an https URL"));
        let mut config = configured(ProviderKindConfig::Oidc);
        config.redirect_uris.clear();
        assert!(refusal(&config).contains("redirect_uris is empty"));
        let mut config = configured(ProviderKindConfig::Oidc);
        config.public_url = String::new();
        assert!(refusal(&config).contains("public_url"));
        let mut config = configured(ProviderKindConfig::Oidc);
        config.redirect_uris = vec!["https://app.example.com/cb#x".into()];
        assert!(refusal(&config).contains("fragment"));
        let mut config = configured(ProviderKindConfig::Oidc);
        let provider = config.providers.remove("p").expect("p");
        config.providers.insert("Bad Name".into(), provider);
        assert!(refusal(&config).contains("provider name"));
    }

    #[test]
    fn the_presets_fill_in_their_urls_and_scopes() {
        let mut config = configured(ProviderKindConfig::Google);
        config.providers.get_mut("p").expect("p").issuer = None;
        let provider = config.providers["p"].provider("p");
        assert_eq!(
            provider.kind,
            ProviderKind::Oidc {
                issuer: GOOGLE_ISSUER.into()
            }
        );
        assert_eq!(provider.scopes, ["openid", "email", "profile"]);
        let github = configured(ProviderKindConfig::Github).providers["p"].provider("p");
        assert_eq!(
            github.kind,
            ProviderKind::Github {
                authorize_url: GITHUB_AUTHORIZE.into(),
                token_url: GITHUB_TOKEN.into(),
                api_url: GITHUB_API.into(),
            }
        );
        assert!(!format!("{github:?}").contains("secret\""), "{github:?}");
    }

    #[test]
    fn the_secret_is_read_from_its_file() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-the-file\n").expect("write");
        let mut config = configured(ProviderKindConfig::Oidc);
        let provider = config.providers.get_mut("p").expect("p");
        provider.client_secret = None;
        provider.client_secret_file = Some(file);
        config.resolve_secret_files().expect("read");
        assert_eq!(
            config.providers["p"]
                .client_secret
                .as_ref()
                .map(Secret::expose),
            Some("from-the-file")
        );
        config.providers.get_mut("p").expect("p").client_secret_file =
            Some(dir.path().join("missing"));
        assert!(config.resolve_secret_files().is_err());
    }
}
