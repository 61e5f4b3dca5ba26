//! Builds the authentication state from the configuration: the password hasher and policy, the
//! signing keys (created in the database on first start), the mailer (SMTP when configured,
//! else the development mailbox) and the account mail's links and templates
//! (`templates/mail/*.txt`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use fathom_api::{AuthRateLimits, AuthSettings, AuthState, Keys, MailSettings, SmtpMailer};
use fathom_auth::{PasswordHasher, PasswordParams, PasswordPolicy, TokenConfig};
use fathom_store::Store;

use crate::config::Config;

/// The bodies of account mail; `{link}` and `{valid_for}` are filled in for each message.
const VERIFY_TEMPLATE: &str = include_str!("../templates/mail/verify_email.txt");
const RESET_TEMPLATE: &str = include_str!("../templates/mail/reset_password.txt");
const ALREADY_REGISTERED_TEMPLATE: &str = include_str!("../templates/mail/already_registered.txt");

pub async fn build(config: &Config, store: &Store) -> anyhow::Result<Arc<AuthState>> {
    let auth = &config.auth;
    let mail = &config.mail;
    mail.validate()?;
    let params = PasswordParams {
        memory_kib: auth.argon2_memory_kib,
        iterations: auth.argon2_iterations,
        parallelism: 1,
    };
    let concurrency = if auth.hash_concurrency == 0 {
        PasswordHasher::default_concurrency()
    } else {
        auth.hash_concurrency
    };
    let hasher = PasswordHasher::new(params, concurrency).map_err(|e| anyhow!("auth: {e}"))?;
    let policy = PasswordPolicy::new(auth.password_min_length).map_err(|e| anyhow!("auth: {e}"))?;
    let keys = Keys::load(store)
        .await
        .map_err(|e| anyhow!("loading the token signing keys: {e}"))?;
    let mut tokens = TokenConfig::new(auth.issuer.clone(), auth.audience.clone());
    tokens.access_ttl_secs = auth.access_token_ttl_secs;
    let settings = AuthSettings {
        tokens,
        session_ttl: Duration::from_secs(auth.session_ttl_hours * 3600),
        lockout_threshold: auth.lockout_threshold,
        lockout_duration: Duration::from_secs(auth.lockout_minutes * 60),
        allow_registration: auth.allow_registration,
        require_verified_email: auth.require_verified_email,
        rate_limits: AuthRateLimits {
            login: auth.rate_limits.login,
            register: auth.rate_limits.register,
            verify: auth.rate_limits.verify,
            refresh: auth.rate_limits.refresh,
            password_reset: auth.rate_limits.password_reset,
            overall: auth.rate_limit_per_minute,
        },
        hash_queue_per_address: auth.hash_queue_per_address,
        hash_queue_limit: auth.hash_queue_limit,
        trusted_proxies: auth.proxies()?,
        mail: MailSettings {
            verify_link: mail.link_template(&mail.verify_url),
            reset_link: mail.link_template(&mail.reset_url),
            per_recipient_per_hour: mail.per_recipient_per_hour,
            verify_template: VERIFY_TEMPLATE.to_owned(),
            reset_template: RESET_TEMPLATE.to_owned(),
            already_registered_template: ALREADY_REGISTERED_TEMPLATE.to_owned(),
        },
        verification_ttl: Duration::from_secs(24 * 3600),
        reset_ttl: Duration::from_secs(3600),
        session_cache: Duration::from_millis(auth.session_cache_ms),
        api_limits: config.rate_limits.resolve()?,
        limiter: config.redis.limiter()?,
        totp: auth.totp.settings(),
        oauth: config.oauth.settings()?,
        passkeys: auth.passkeys.settings()?,
    };
    let smtp = match &config.mail.smtp_url {
        Some(url) => Some(
            SmtpMailer::new(url.expose(), &config.mail.from).map_err(|e| anyhow!("mail: {e}"))?,
        ),
        None => {
            tracing::warn!(
                "mail.smtp_url is not set: verification and reset mail stays in the development mailbox"
            );
            None
        }
    };
    Ok(AuthState::new(settings, hasher, policy, keys, smtp))
}
