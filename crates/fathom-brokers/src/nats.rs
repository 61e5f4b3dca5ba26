//! The NATS JetStream publisher: one client per sink; each message goes to
//! `<subject_prefix>.<collection>.<operation>` with `Nats-Msg-Id` = the event id, so that
//! JetStream discards a republished event within the stream's duplicate window, and the sink
//! waits for the stream's acknowledgement before moving on.

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

    pub(crate) async fn publish(&mut self, message: &Message) -> Result<(), PublishError> {
        let subject = format!("{}.{}", self.target.subject_prefix, message.topic());
        let publish = PublishMessage::build()
            .payload(message.body.clone().into())
            .message_id(message.id.as_str());
        let error = |e: &dyn std::fmt::Display| PublishError::new(e, &self.target.url);
        let ack = self
            .jetstream
            .send_publish(subject.clone(), publish)
            .await
            .map_err(|e| error(&format_args!("publishing to `{subject}`: {e}")))?;
        match tokio::time::timeout(self.target.ack_timeout, ack).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(error(&format_args!(
                "JetStream did not store the message on `{subject}`: {e} (does a stream capture it? set `stream` on the sink to create one)"
            ))),
            Err(_) => Err(error(&format_args!(
                "no JetStream acknowledgement for `{subject}` within {} ms",
                self.target.ack_timeout.as_millis()
            ))),
        }
    }
}
