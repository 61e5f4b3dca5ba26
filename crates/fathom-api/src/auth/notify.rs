//! Account mail, sent after the answer: verification and password-reset links (built from the
//! configured application URL and link templates, the token in the link's fragment) and the
//! notice to an owner whose address someone tried to register again. Whatever depends on whether
//! an account exists runs in [`after_answer`], so the answer, and its timing, are the same for
//! known and unknown addresses. Each recipient gets at most `mail.per_recipient_per_hour`
//! messages; further ones are dropped (and logged), which no requester can observe.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fathom_auth::{generate_token, hash_token};
use uuid::Uuid;

use super::mailbox::Mail;
use super::tokens::{audit, timestamp_after};
use crate::AppState;
use crate::error::ApiError;

/// How account mail is written.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The verification link, with `{token}` where the token goes.
    pub verify_link: String,
    /// The password-reset link, with `{token}` where the token goes.
    pub reset_link: String,
    /// Messages a recipient may receive an hour; 0 has no cap.
    pub per_recipient_per_hour: u32,
    /// Bodies of verification mail: `{link}` and `{valid_for}` are filled in.
    pub verify_template: String,
    /// Bodies of reset mail: `{link}` and `{valid_for}` are filled in.
    pub reset_template: String,
    /// The body of the notice to an address that is already registered.
    pub already_registered_template: String,
}

/// A mail carrying a single-use token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenMail {
    Verify,
    Reset,
    /// An administrator's invitation: a set-password link, redeemed like a reset
    /// (`/auth/password-reset/confirm`), valid as long as a verification link.
    Invite,
    /// The confirmation of a new address, mailed to that address: a verification link whose
    /// token names the address it confirms (`fathom_store::EMAIL_CHANGE`).
    EmailChange,
}

impl TokenMail {
    fn purpose(self) -> &'static str {
        match self {
            Self::Verify => "verify_email",
            Self::Reset | Self::Invite => "reset_password",
            Self::EmailChange => fathom_store::EMAIL_CHANGE,
        }
    }
}

/// The most recipients remembered; the stalest are forgotten first.
const CAPACITY: usize = 10_000;
const HOUR: Duration = Duration::from_secs(3600);

/// Mail sent per recipient in the current hour.
#[derive(Default)]
pub struct RecipientCap {
    sent: Mutex<HashMap<String, (u32, Instant)>>,
}

impl RecipientCap {
    /// Whether one more message may go to `to` this hour (and counts it if so).
    fn allow(&self, to: &str, per_hour: u32) -> bool {
        if per_hour == 0 {
            return true;
        }
        let Ok(mut sent) = self.sent.lock() else {
            return false;
        };
        let now = Instant::now();
        if sent.len() >= CAPACITY {
            sent.retain(|_, (_, since)| now.duration_since(*since) < HOUR);
            if sent.len() >= CAPACITY
                && let Some(stalest) = sent
                    .iter()
                    .min_by_key(|(_, (_, since))| *since)
                    .map(|(k, _)| k.clone())
            {
                sent.remove(&stalest);
            }
        }
        let entry = sent.entry(to.to_ascii_lowercase()).or_insert((0, now));
        if now.duration_since(entry.1) >= HOUR {
            *entry = (0, now);
        }
        if entry.0 >= per_hour {
            return false;
        }
        entry.0 += 1;
        true
    }
}

/// Runs `work` after the answer, in the background, keeping the request id and client address
/// for its log lines and audit entries. Its errors are logged: the client has been answered.
pub(crate) fn after_answer<F>(what: &'static str, work: F)
where
    F: Future<Output = Result<(), ApiError>> + Send + 'static,
{
    let id = crate::request_id::current();
    let ip = crate::client_ip::current();
    tokio::spawn(crate::request_id::scope(
        id,
        crate::client_ip::scope(ip, async move {
            if let Err(error) = work.await {
                tracing::error!(what, code = error.code.as_str(), detail = %error.detail, "account mail failed");
            }
        }),
    ));
}

/// "24 hours", "1 hour", "30 minutes".
fn valid_for(ttl: Duration) -> String {
    let minutes = ttl.as_secs() / 60;
    match (minutes / 60, minutes % 60) {
        (1, 0) => "1 hour".into(),
        (hours, 0) => format!("{hours} hours"),
        _ => format!("{minutes} minutes"),
    }
}

/// Whether `to` may get one more message; logs and audits the drop when not.
async fn within_cap(state: &AppState, to: &str, user: Option<Uuid>) -> bool {
    let auth = &state.auth;
    if auth
        .recipients
        .allow(to, auth.settings.mail.per_recipient_per_hour)
    {
        return true;
    }
    tracing::warn!("account mail dropped: its recipient reached mail.per_recipient_per_hour");
    let detail = format!(
        "more than {} messages an hour to one address",
        auth.settings.mail.per_recipient_per_hour
    );
    audit(
        state,
        "mail_dropped",
        "denied",
        user.map(|u| u.to_string()),
        Some(detail),
    )
    .await;
    false
}

/// Stores a new single-use token (as a hash) and mails its link to `to`. The token exists in
/// clear only in the message.
pub(crate) async fn mail_token(
    state: &AppState,
    user_id: Uuid,
    to: String,
    kind: TokenMail,
) -> Result<(), ApiError> {
    if !within_cap(state, &to, Some(user_id)).await {
        return Ok(());
    }
    let settings = &state.auth.settings;
    let (ttl, link, template, subject) = match kind {
        TokenMail::Verify => (
            settings.verification_ttl,
            &settings.mail.verify_link,
            &settings.mail.verify_template,
            "Verify your email address",
        ),
        TokenMail::Reset => (
            settings.reset_ttl,
            &settings.mail.reset_link,
            &settings.mail.reset_template,
            "Reset your password",
        ),
        TokenMail::Invite => (
            settings.verification_ttl,
            &settings.mail.reset_link,
            &settings.mail.reset_template,
            "You are invited: set your password",
        ),
        TokenMail::EmailChange => (
            settings.verification_ttl,
            &settings.mail.verify_link,
            &settings.mail.verify_template,
            "Confirm your new email address",
        ),
    };
    // An email change's token carries the address it confirms (the recipient).
    let purpose = match kind {
        TokenMail::EmailChange => format!("{}{to}", kind.purpose()),
        other => other.purpose().to_owned(),
    };
    let token = generate_token();
    state
        .store
        .create_one_time_token(user_id, purpose, hash_token(&token), timestamp_after(ttl))
        .await?;
    let body = template
        .replace("{valid_for}", &valid_for(ttl))
        .replace("{link}", &link.replace("{token}", &token));
    state.auth.deliver(Mail {
        to,
        subject: subject.into(),
        body,
    });
    Ok(())
}

/// Mails a notice without a token to `to`, within the recipient's cap.
pub(crate) async fn mail_notice(state: &AppState, to: String, subject: &str, body: String) {
    if within_cap(state, &to, None).await {
        state.auth.deliver(Mail {
            to,
            subject: subject.into(),
            body,
        });
    }
}

/// Tells the owner of `to` that someone tried to register it again.
pub(super) async fn mail_already_registered(state: &AppState, to: String) {
    if within_cap(state, &to, None).await {
        state.auth.deliver(Mail {
            to,
            subject: "Someone tried to register with your address".into(),
            body: state.auth.settings.mail.already_registered_template.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_per_recipient_whatever_the_case() {
        let cap = RecipientCap::default();
        assert!(cap.allow("a@example.com", 2));
        assert!(cap.allow("A@example.com", 2));
        assert!(!cap.allow("a@example.com", 2));
        assert!(cap.allow("b@example.com", 2));
        assert!(
            (0..100).all(|_| cap.allow("c@example.com", 0)),
            "0 is no cap"
        );
    }

    #[test]
    fn lifetimes_read_naturally() {
        assert_eq!(valid_for(Duration::from_secs(24 * 3600)), "24 hours");
        assert_eq!(valid_for(Duration::from_secs(3600)), "1 hour");
        assert_eq!(valid_for(Duration::from_secs(1800)), "30 minutes");
    }
}
