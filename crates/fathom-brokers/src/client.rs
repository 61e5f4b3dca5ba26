//! One connection to a sink's broker, whichever it is: connect, send messages and wait for the
//! broker to take each (in the order they were sent), drop. The broker clients are behind the
//! crate's `nats` and `rabbitmq` features; a target whose feature is off fails to connect with a
//! clear error (the `fathom` crate refuses such a configuration before it gets here).

use crate::payload::Message;
use crate::spec::Target;

/// A failure to connect or publish, described without credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct PublishError {
    detail: String,
    out_of_turn: bool,
}

impl PublishError {
    /// `detail` with every credential of `url` (user information) removed: drivers may echo the
    /// URL they were given.
    pub(crate) fn new(detail: impl std::fmt::Display, url: &str) -> Self {
        let mut text = detail.to_string();
        if let Some(userinfo) = userinfo(url) {
            text = text.replace(userinfo, "[redacted]");
        }
        Self {
            detail: text,
            out_of_turn: false,
        }
    }

    /// The broker refused a message only because the one sent before it was not stored: not a
    /// failure of the broker, and the message is sent again on its own. (Only NATS says so.)
    #[cfg(feature = "nats")]
    pub(crate) fn out_of_turn(detail: impl std::fmt::Display) -> Self {
        Self {
            detail: detail.to_string(),
            out_of_turn: true,
        }
    }

    pub(crate) fn is_out_of_turn(&self) -> bool {
        self.out_of_turn
    }
}

/// The `user:password` part of a URL, if it has one.
fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map(|(info, _)| info)
        .filter(|info| !info.is_empty())
}

/// A live connection to a sink's broker.
pub(crate) enum Client {
    #[cfg(feature = "nats")]
    Nats(crate::nats::NatsPublisher),
    #[cfg(feature = "rabbitmq")]
    Rabbitmq(crate::rabbitmq::RabbitmqPublisher),
}

impl Client {
    pub(crate) async fn connect(target: &Target) -> Result<Self, PublishError> {
        match target {
            #[cfg(feature = "nats")]
            Target::Nats(nats) => crate::nats::NatsPublisher::connect(nats)
                .await
                .map(Self::Nats),
            #[cfg(feature = "rabbitmq")]
            Target::Rabbitmq(rabbitmq) => crate::rabbitmq::RabbitmqPublisher::connect(rabbitmq)
                .await
                .map(Self::Rabbitmq),
            #[allow(unreachable_patterns)]
            other => Err(PublishError::new(
                format_args!(
                    "this build of fathom has no {} support (cargo feature `{}`)",
                    other.kind(),
                    other.kind()
                ),
                "",
            )),
        }
    }

    /// Sends `message`; its acknowledgement comes through the returned [`Pending`]. `after` is the
    /// id of the message sent just before it and not yet acknowledged, if any: where the broker
    /// can (JetStream), it refuses `message` unless that one was stored.
    pub(crate) async fn send(
        &mut self,
        message: &Message,
        after: Option<&str>,
    ) -> Result<Pending, PublishError> {
        match self {
            #[cfg(feature = "nats")]
            Self::Nats(nats) => nats.send(message, after).await.map(Pending::Nats),
            #[cfg(feature = "rabbitmq")]
            Self::Rabbitmq(rabbitmq) => {
                // RabbitMQ has no such condition; its confirms keep the order of sending.
                let _ = after;
                rabbitmq.send(message).await.map(Pending::Rabbitmq)
            }
            // Without either feature there is no client to hold (connect refuses every target).
            #[cfg(not(any(feature = "nats", feature = "rabbitmq")))]
            _ => Err(PublishError::new(
                format_args!(
                    "this build of fathom cannot publish event {} after {after:?}",
                    message.sequence
                ),
                "",
            )),
        }
    }
}

/// A message sent to the broker whose acknowledgement is still to come.
pub(crate) enum Pending {
    #[cfg(feature = "nats")]
    Nats(crate::nats::PendingAck),
    #[cfg(feature = "rabbitmq")]
    Rabbitmq(crate::rabbitmq::PendingConfirm),
}

impl Pending {
    /// Returns once the broker has taken the message (JetStream's ack, RabbitMQ's confirm).
    pub(crate) async fn acknowledged(self) -> Result<(), PublishError> {
        match self {
            #[cfg(feature = "nats")]
            Self::Nats(ack) => ack.acknowledged().await,
            #[cfg(feature = "rabbitmq")]
            Self::Rabbitmq(confirm) => confirm.acknowledged().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_from_errors() {
        let url = "amqp://fathom:s3cret@broker:5672/%2f";
        let error = PublishError::new("cannot reach amqp://fathom:s3cret@broker:5672/%2f", url);
        assert!(!error.to_string().contains("s3cret"));
        assert_eq!(userinfo("nats://broker:4222"), None);
        assert_eq!(userinfo("nats://tok@broker:4222/x@y"), Some("tok"));
    }
}
