//! The development mailbox: when no SMTP relay is configured, outgoing messages are kept in
//! memory (the newest 100) for tests and local work, and logged without their body, since bodies
//! carry single-use tokens.

use std::collections::VecDeque;
use std::sync::Mutex;

/// One message.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"[redacted]")
            .finish()
    }
}

/// The development mailbox.
#[derive(Default)]
pub struct Mailbox {
    messages: Mutex<VecDeque<Mail>>,
}

const KEEP: usize = 100;

impl Mailbox {
    pub fn send(&self, mail: Mail) {
        tracing::info!(subject = %mail.subject, "mail queued in the development mailbox");
        if let Ok(mut messages) = self.messages.lock() {
            if messages.len() == KEEP {
                messages.pop_front();
            }
            messages.push_back(mail);
        }
    }

    /// The messages sent to `to`, oldest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.messages
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|mail| mail.to.eq_ignore_ascii_case(to))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
