//! One connection to a sink's broker, whichever it is: connect, publish one message and wait for
//! the broker to take it, drop. The broker clients are behind the crate's `nats` and `rabbitmq`
//! features; a target whose feature is off fails to connect with a clear error (the `fathom`
//! crate refuses such a configuration before it gets here).

use crate::payload::Message;
use crate::spec::Target;

/// A failure to connect or publish, described without credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(String);

impl PublishError {
    /// `detail` with every credential of `url` (user information) removed: drivers may echo the
    /// URL they were given.
    pub(crate) fn new(detail: impl std::fmt::Display, url: &str) -> Self {
        let mut text = detail.to_string();
        if let Some(userinfo) = userinfo(url) {
            text = text.replace(userinfo, "[redacted]");
        }
        Self(text)
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
            other => Err(PublishError(format!(
                "this build of fathom has no {} support (cargo feature `{}`)",
                other.kind(),
                other.kind()
            ))),
        }
    }

    /// Publishes `message` and returns once the broker has taken it (JetStream's ack, RabbitMQ's
    /// confirm).
    pub(crate) async fn publish(&mut self, message: &Message) -> Result<(), PublishError> {
        match self {
            #[cfg(feature = "nats")]
            Self::Nats(nats) => nats.publish(message).await,
            #[cfg(feature = "rabbitmq")]
            Self::Rabbitmq(rabbitmq) => rabbitmq.publish(message).await,
            // Without either feature there is no client to hold (connect refuses every target).
            #[cfg(not(any(feature = "nats", feature = "rabbitmq")))]
            _ => Err(PublishError(format!(
                "this build of fathom cannot publish event {}",
                message.sequence
            ))),
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
