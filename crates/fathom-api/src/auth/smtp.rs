//! Mail over SMTP. Sending never holds up the request that caused it: each message is handed to
//! a background task that tries up to three times, waiting between tries on the shared
//! [`Backoff`] schedule (full jitter), behind one [`Breaker`] for the relay (`fathom_core::outbound`,
//! the policy webhooks and brokers use too). While the breaker is open a message is not
//! attempted: it is logged as not sent. Answers (and their timing) do not depend on whether mail
//! was sent, which keeps known and unknown emails indistinguishable. The log names the subject
//! and outcome, never the body: bodies carry single-use tokens.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fathom_core::outbound::{Backoff, Breaker, BreakerState};
use lettre::message::Mailbox as Address;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::mailbox::Mail;

/// Three attempts per message (two retries) before it is given up (and logged as lost).
const BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    cap: Duration::from_secs(4),
    retries: 2,
};
/// The relay's breaker opens after this many consecutive failed attempts (a little more than
/// one message's worth, so one unlucky message does not stop the others)...
const BREAKER_THRESHOLD: u32 = 5;
/// ...and lets one attempt through again after this long.
const BREAKER_COOLDOWN: Duration = Duration::from_secs(60);

/// An SMTP relay and the sender address.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
    backoff: Backoff,
    /// The relay's breaker, shared by every message's task.
    breaker: Arc<Mutex<Breaker>>,
}

/// How one message's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Sent at this attempt (1-based).
    Sent(u32),
    /// Every allowed attempt failed; this many were made.
    Failed(u32),
    /// The breaker refused the next attempt after this many were made (0: none was).
    BreakerOpen(u32),
}

impl SmtpMailer {
    /// `url` is `smtp://[user:pass@]host[:port]` (STARTTLS when offered, or `?tls=required`),
    /// or `smtps://...` (TLS from the start). The error never repeats the URL, which may hold a
    /// password.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        Self::with_policy(url, from, BACKOFF, BREAKER_THRESHOLD, BREAKER_COOLDOWN)
    }

    /// [`SmtpMailer::new`] with another retry schedule and breaker (tests keep pauses short).
    fn with_policy(
        url: &str,
        from: &str,
        backoff: Backoff,
        threshold: u32,
        cooldown: Duration,
    ) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("mail.smtp_url is not a usable SMTP URL ({e})"))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from = from
            .parse::<Address>()
            .map_err(|e| format!("mail.from = {from:?} is not an address ({e})"))?;
        Ok(Self {
            transport,
            from,
            backoff,
            breaker: Arc::new(Mutex::new(Breaker::new(threshold, cooldown))),
        })
    }

    /// The relay's breaker state now (for `/metrics`).
    pub fn breaker_state(&self) -> BreakerState {
        lock(&self.breaker).state(Instant::now())
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
        let delivery = self.delivery(message, mail.subject);
        tokio::spawn(delivery);
    }

    /// The delivery of one message: attempts on the backoff schedule, each asked of the breaker
    /// first. Owns what it needs, so that it can run on its own task.
    fn delivery(
        &self,
        message: Message,
        subject: String,
    ) -> impl Future<Output = Delivery> + Send + 'static {
        let transport = self.transport.clone();
        let breaker = self.breaker.clone();
        let backoff = self.backoff;
        async move {
            let mut attempt = 0u32;
            loop {
                if !lock(&breaker).try_call(Instant::now()) {
                    tracing::error!(%subject, attempts = attempt, "mail not sent: the SMTP relay's circuit breaker is open");
                    return Delivery::BreakerOpen(attempt);
                }
                attempt += 1;
                let result = transport.send(message.clone()).await;
                match result {
                    Ok(_) => {
                        lock(&breaker).success();
                        tracing::info!(%subject, attempt, "mail sent over SMTP");
                        return Delivery::Sent(attempt);
                    }
                    Err(error) => {
                        lock(&breaker).failure(Instant::now());
                        match backoff.jittered(attempt - 1) {
                            Some(wait) => {
                                tracing::warn!(%subject, attempt, %error, "mail delivery failed; retrying");
                                tokio::time::sleep(wait).await;
                            }
                            None => {
                                tracing::error!(%subject, attempt, %error, "mail delivery failed; giving up");
                                return Delivery::Failed(attempt);
                            }
                        }
                    }
                }
            }
        }
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

/// The breaker is plain data, whole after any panic.
fn lock(breaker: &Mutex<Breaker>) -> std::sync::MutexGuard<'_, Breaker> {
    breaker.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A loopback port nothing listens on: bound, then released.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    fn mail() -> Mail {
        Mail {
            to: "someone@example.com".into(),
            subject: "Test".into(),
            body: "secret token".into(),
        }
    }

    #[tokio::test]
    async fn a_dead_relay_gets_three_attempts_per_message_then_the_breaker_stops_attempts() {
        let url = format!("smtp://127.0.0.1:{}", closed_port());
        let backoff = Backoff {
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
            retries: 2,
        };
        let mailer = SmtpMailer::with_policy(
            &url,
            "Fathom <noreply@example.com>",
            backoff,
            5,
            Duration::from_secs(60),
        )
        .unwrap();
        let message = || mailer.message(&mail()).unwrap();
        assert_eq!(mailer.breaker_state(), BreakerState::Closed);
        let first = mailer.delivery(message(), "first".into()).await;
        assert_eq!(first, Delivery::Failed(3), "three attempts, as before");
        assert_eq!(mailer.breaker_state(), BreakerState::Closed, "3 < 5");
        let second = mailer.delivery(message(), "second".into()).await;
        assert_eq!(
            second,
            Delivery::BreakerOpen(2),
            "the fifth consecutive failure opens the breaker before the third attempt"
        );
        assert_eq!(mailer.breaker_state(), BreakerState::Open);
        let third = mailer.delivery(message(), "third".into()).await;
        assert_eq!(third, Delivery::BreakerOpen(0), "not attempted at all");
    }

    #[tokio::test]
    async fn an_open_breaker_lets_one_probe_through_after_the_cooldown() {
        let url = format!("smtp://127.0.0.1:{}", closed_port());
        let backoff = Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            retries: 0,
        };
        let mailer = SmtpMailer::with_policy(
            &url,
            "noreply@example.com",
            backoff,
            1,
            Duration::from_millis(50),
        )
        .unwrap();
        let message = || mailer.message(&mail()).unwrap();
        assert_eq!(
            mailer.delivery(message(), "a".into()).await,
            Delivery::Failed(1)
        );
        assert_eq!(mailer.breaker_state(), BreakerState::Open);
        assert_eq!(
            mailer.delivery(message(), "b".into()).await,
            Delivery::BreakerOpen(0)
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(mailer.breaker_state(), BreakerState::HalfOpen);
        assert_eq!(
            mailer.delivery(message(), "c".into()).await,
            Delivery::Failed(1),
            "the probe is attempted and fails"
        );
        assert_eq!(mailer.breaker_state(), BreakerState::Open, "reopened");
    }
}
