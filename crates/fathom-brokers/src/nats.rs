//! The NATS JetStream publisher: one client per sink; each message goes to
//! `<subject_prefix>.<collection>.<operation>` with `Nats-Msg-Id` = the event id, so that
//! JetStream discards a republished event within the stream's duplicate window. Several messages
//! may await their acknowledgement at once; each one after the first carries
//! `Nats-Expected-Last-Msg-Id` = its predecessor's id, so JetStream never stores a message ahead
//! of one it refused.

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, message::PublishMessage, stream};

use crate::client::PublishError;
use crate::payload::Message;
use crate::spec::NatsTarget;

pub(crate) struct NatsPublisher {
    jetstream: jetstream::Context,
    target: NatsTarget,
}

impl NatsPublisher {
    pub(crate) async fn connect(target: &NatsTarget) -> Result<Self, PublishError> {
        let error = |e: &dyn std::fmt::Display| PublishError::new(e, &target.url);
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(target.ack_timeout)
            .name("fathom")
            .connect(target.url.as_str())
            .await
            .map_err(|e| error(&format_args!("cannot connect to NATS: {e}")))?;
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(target.ack_timeout);
        if let Some(spec) = &target.stream {
            jetstream
                .get_or_create_stream(stream::Config {
                    name: spec.name.clone(),
                    subjects: vec![format!("{}.>", target.subject_prefix)],
                    duplicate_window: spec.duplicate_window,
                    ..Default::default()
                })
                .await
                .map_err(|e| {
                    error(&format_args!(
                        "cannot create the JetStream stream `{}`: {e}",
                        spec.name
                    ))
                })?;
        }
        Ok(Self {
            jetstream,
            target: target.clone(),
        })
    }

    /// Sends `message` to its subject. With `after` (the id of the message sent just before it,
    /// not yet acknowledged) JetStream stores it only if that message is the stream's last
    /// (`Nats-Expected-Last-Msg-Id`): a message whose predecessor failed is refused, not stored
    /// ahead of it.
    pub(crate) async fn send(
        &mut self,
        message: &Message,
        after: Option<&str>,
    ) -> Result<PendingAck, PublishError> {
        let subject = format!("{}.{}", self.target.subject_prefix, message.topic());
        let mut publish = PublishMessage::build()
            .payload(message.body.clone().into())
            .message_id(message.id.as_str());
        if let Some(after) = after {
            publish = publish.expected_last_message_id(after);
        }
        let ack = self
            .jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| {
                PublishError::new(
                    format_args!("publishing to `{subject}`: {e}"),
                    &self.target.url,
                )
            })?;
        Ok(PendingAck {
            ack,
            subject,
            url: self.target.url.clone(),
            timeout: self.target.ack_timeout,
        })
    }
}

/// A message sent to JetStream whose acknowledgement is still to come.
pub(crate) struct PendingAck {
    ack: async_nats::jetstream::context::PublishAckFuture,
    subject: String,
    url: String,
    timeout: std::time::Duration,
}

impl PendingAck {
    pub(crate) async fn acknowledged(self) -> Result<(), PublishError> {
        let Self {
            ack,
            subject,
            url,
            timeout,
        } = self;
        match tokio::time::timeout(timeout, ack).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.kind() == PublishErrorKind::WrongLastMessageId => {
                Err(PublishError::out_of_turn(format_args!(
                    "JetStream refused the message on `{subject}`: the message before it is not the stream's last"
                )))
            }
            Ok(Err(e)) => Err(PublishError::new(
                format_args!(
                    "JetStream did not store the message on `{subject}`: {e} (does a stream capture it? set `stream` on the sink to create one)"
                ),
                &url,
            )),
            Err(_) => Err(PublishError::new(
                format_args!(
                    "no JetStream acknowledgement for `{subject}` within {} ms",
                    timeout.as_millis()
                ),
                &url,
            )),
        }
    }
}
