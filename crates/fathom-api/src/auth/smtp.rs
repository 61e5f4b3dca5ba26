//! Mail over SMTP. Sending never holds up the request that caused it: each message is handed to
//! a background task that tries up to three times with growing pauses, so answers (and their
//! timing) do not depend on whether mail was sent, which keeps known and unknown emails
//! indistinguishable. The log names the subject and outcome, never the body: bodies carry
//! single-use tokens.

use std::time::Duration;

use lettre::message::Mailbox as Address;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::mailbox::Mail;

/// Attempts per message before it is given up (and logged as lost).
const ATTEMPTS: u32 = 3;

/// An SMTP relay and the sender address.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl SmtpMailer {
    /// `url` is `smtp://[user:pass@]host[:port]` (STARTTLS when offered, or `?tls=required`),
    /// or `smtps://...` (TLS from the start). The error never repeats the URL, which may hold a
    /// password.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("mail.smtp_url is not a usable SMTP URL ({e})"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from = from
            .parse::<Address>()
            .map_err(|e| format!("mail.from = {from:?} is not an address ({e})"))?;
        Ok(Self { transport, from })
    }

    /// Queues `mail` for delivery in the background.
    pub fn send(&self, mail: Mail) {
        let message = match self.message(&mail) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(subject = %mail.subject, %error, "mail not sent: it cannot be built");
                return;
            }
        };
        let transport = self.transport.clone();
        let subject = mail.subject;
        tokio::spawn(async move {
            for attempt in 1..=ATTEMPTS {
                match transport.send(message.clone()).await {
                    Ok(_) => {
                        tracing::info!(%subject, attempt, "mail sent over SMTP");
                        return;
                    }
                    Err(error) if attempt < ATTEMPTS => {
                        tracing::warn!(%subject, attempt, %error, "mail delivery failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                    }
                    Err(error) => {
                        tracing::error!(%subject, attempt, %error, "mail delivery failed; giving up");
                    }
                }
            }
        });
    }

    fn message(&self, mail: &Mail) -> Result<Message, String> {
        let to = mail
            .to
            .parse::<Address>()
            .map_err(|e| format!("the recipient is not an address ({e})"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .body(mail.body.clone())
            .map_err(|e| e.to_string())
    }
}
