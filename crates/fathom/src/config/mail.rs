//! `[mail]`: where verification and password-reset mail goes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Outgoing mail. Without `smtp_url` mail stays in the development mailbox (in memory, for
/// tests and local work), which is not for production: users would never receive their links.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587` (STARTTLS when offered; `?tls=required` insists) or
    /// `smtps://user:pass@host:465`. It holds a password, so prefer `smtp_url_file`.
    pub smtp_url: Option<Secret>,
    /// A file holding `smtp_url`.
    pub smtp_url_file: Option<PathBuf>,
    /// The sender, e.g. `Example <no-reply@example.com>`.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            smtp_url_file: None,
            from: "Fathom <no-reply@localhost>".into(),
        }
    }
}

impl MailConfig {
    /// Reads `smtp_url_file` into `smtp_url`.
    pub(super) fn resolve_secret_file(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.smtp_url_file {
            if self.smtp_url.is_some() {
                return Err(ConfigError::Invalid(
                    "both mail.smtp_url and mail.smtp_url_file are set; keep only one".into(),
                ));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "mail.smtp_url_file: cannot read {}: {e}; check the path and its permissions",
                    path.display()
                ))
            })?;
            self.smtp_url = Some(Secret(text.trim().to_owned()));
        }
        Ok(())
    }
}
