//! `[metrics]`: where Prometheus metrics are served. Not public by default: with neither key set
//! there is no metrics endpoint and nothing is recorded.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A listener of its own for `GET /metrics`, without credentials (for example
    /// `127.0.0.1:9464`); bind it where only the scraper reaches.
    pub listen: Option<String>,
    /// A file holding a bearer token: `GET /metrics` is then also served on the main listener,
    /// to requests carrying `Authorization: Bearer <token>`.
    pub token_file: Option<PathBuf>,
    /// The token read from `token_file` (never from the file itself, never printed).
    #[serde(skip)]
    pub token: Option<super::Secret>,
}

/// The shortest token accepted: a guessable token would make the endpoint public.
const MIN_TOKEN_CHARS: usize = 16;

impl MetricsConfig {
    /// Reads the token file, if any.
    pub fn resolve_secret_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = &self.token_file else {
            return Ok(());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(format!(
                "metrics.token_file: cannot read {}: {e}; hint: check the path and its permissions",
                path.display()
            ))
        })?;
        let token = text.trim();
        if token.chars().count() < MIN_TOKEN_CHARS || token.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid(format!(
                "metrics.token_file: the token in {} must be at least {MIN_TOKEN_CHARS} characters without spaces; hint: write one with `openssl rand -hex 32 > {}`",
                path.display(),
                path.display()
            )));
        }
        self.token = Some(super::Secret::new(token));
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(listen) = &self.listen
            && listen.parse::<SocketAddr>().is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "metrics.listen is \"{listen}\", which is not an address; hint: use IP:PORT such as 127.0.0.1:9464 (port 0 picks a free port)"
            )));
        }
        Ok(())
    }

    /// The metrics listener's address, when one is configured.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.as_deref().and_then(|l| l.parse().ok())
    }

    /// How the API exposes metrics.
    pub fn exposure(&self) -> fathom_api::MetricsExposure {
        let listener = self.listen.is_some();
        match (&self.token, listener) {
            (Some(token), _) => fathom_api::MetricsExposure::Token {
                token: fathom_api::MetricsToken::new(token.expose()),
                listener,
            },
            (None, true) => fathom_api::MetricsExposure::Listener,
            (None, false) => fathom_api::MetricsExposure::Off,
        }
    }
}
