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
    /// The public address of the application users open mailed links in, e.g.
    /// `https://app.example.com`; `{app_url}` in the link templates.
    pub app_url: String,
    /// The link in verification mail. `{token}` is the single-use token; keep it in the
    /// fragment (after `#`), which browsers never send to a server or put in a Referer.
    pub verify_url: String,
    /// The link in password-reset mail, like `verify_url`.
    pub reset_url: String,
    /// Verification, reset and notice mails one recipient address may be sent an hour
    /// (further ones are dropped and logged, never reported to the requester); 0: no cap.
    pub per_recipient_per_hour: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            smtp_url_file: None,
            from: "Fathom <no-reply@localhost>".into(),
            app_url: "http://localhost:8090".into(),
            verify_url: "{app_url}/verify-email#token={token}".into(),
            reset_url: "{app_url}/reset-password#token={token}".into(),
            per_recipient_per_hour: 5,
        }
    }
}

impl MailConfig {
    /// Checks the application URL and the link templates (when the auth state is built, so a
    /// bad value stops start-up with this message).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let app_url = self.app_url.trim_end_matches('/');
        if !(app_url.starts_with("https://") || app_url.starts_with("http://"))
            || app_url.len() <= "https://".len()
            || app_url.contains(char::is_whitespace)
        {
            return Err(ConfigError::Invalid(format!(
                "mail.app_url = {:?} is not an http(s) URL; use the address users open the application at, e.g. https://app.example.com",
                self.app_url
            )));
        }
        for (key, template) in [
            ("verify_url", &self.verify_url),
            ("reset_url", &self.reset_url),
        ] {
            if template.matches("{token}").count() != 1 {
                return Err(ConfigError::Invalid(format!(
                    "mail.{key} = {template:?} must contain `{{token}}` exactly once, e.g. \"{{app_url}}/verify-email#token={{token}}\""
                )));
            }
        }
        Ok(())
    }

    /// The link template `template` with `{app_url}` filled in (`{token}` stays for each mail).
    pub fn link_template(&self, template: &str) -> String {
        template.replace("{app_url}", self.app_url.trim_end_matches('/'))
    }

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
