//! The RabbitMQ publisher: one connection and one channel in confirm mode per sink; each
//! message is persistent (delivery mode 2) with `message_id` = the event id, goes to the sink's
//! exchange with the routing key `<prefix><collection>.<operation>`, and the sink waits for the
//! broker's confirms, which come in the order of publishing. Messages are `mandatory`: one no
//! queue takes comes back with its confirm and is a failed publish (retried from the backlog),
//! never a silent loss.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};

use crate::client::PublishError;
use crate::payload::Message;
use crate::spec::RabbitmqTarget;

/// AMQP's persistent delivery mode: the broker writes the message to disk in durable queues.
const PERSISTENT: u8 = 2;

pub(crate) struct RabbitmqPublisher {
    // Held so the connection lives as long as the channel.
    _connection: Connection,
    channel: Channel,
    target: RabbitmqTarget,
}

impl RabbitmqPublisher {
    pub(crate) async fn connect(target: &RabbitmqTarget) -> Result<Self, PublishError> {
        let error = |what: &str, e: lapin::Error| {
            PublishError::new(format_args!("{what}: {e}"), &target.url)
        };
        let connect = Connection::connect(
            &target.url,
            ConnectionProperties::default().with_connection_name("fathom".into()),
        );
        let connection = tokio::time::timeout(target.confirm_timeout, connect)
            .await
            .map_err(|_| {
                PublishError::new(
                    format_args!(
                        "cannot connect to RabbitMQ within {} ms",
                        target.confirm_timeout.as_millis()
                    ),
                    &target.url,
                )
            })?
            .map_err(|e| error("cannot connect to RabbitMQ", e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| error("cannot open a RabbitMQ channel", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| error("cannot turn on publisher confirms", e))?;
        if target.declare_exchange {
            channel
                .exchange_declare(
                    target.exchange.as_str().into(),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(|e| {
                    error(
                        &format!("cannot declare the exchange `{}`", target.exchange),
                        e,
                    )
                })?;
        }
        Ok(Self {
            _connection: connection,
            channel,
            target: target.clone(),
        })
    }

    /// Sends `message` to the exchange; the confirm comes later, in the order of sending.
    pub(crate) async fn send(&mut self, message: &Message) -> Result<PendingConfirm, PublishError> {
        let routing_key = format!("{}{}", self.target.routing_key_prefix, message.topic());
        let properties = BasicProperties::default()
            .with_message_id(message.id.as_str().into())
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_type(format!("{}.{}", message.collection, message.operation.as_str()).into());
        let error = |e: &dyn std::fmt::Display| PublishError::new(e, &self.target.url);
        let publish = self.channel.basic_publish(
            self.target.exchange.as_str().into(),
            routing_key.as_str().into(),
            // Mandatory: a message no queue takes comes back instead of vanishing.
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &message.body,
            properties,
        );
        let confirm = match tokio::time::timeout(self.target.confirm_timeout, publish).await {
            Ok(Ok(confirm)) => confirm,
            Ok(Err(e)) => {
                return Err(error(&format_args!(
                    "publishing to the exchange `{}`: {e}",
                    self.target.exchange
                )));
            }
            Err(_) => {
                return Err(error(&format_args!(
                    "RabbitMQ did not take the message within {} ms",
                    self.target.confirm_timeout.as_millis()
                )));
            }
        };
        Ok(PendingConfirm {
            confirm,
            routing_key,
            exchange: self.target.exchange.clone(),
            url: self.target.url.clone(),
            timeout: self.target.confirm_timeout,
        })
    }
}

/// A message sent to RabbitMQ whose confirm is still to come.
pub(crate) struct PendingConfirm {
    confirm: lapin::PublisherConfirm,
    routing_key: String,
    exchange: String,
    url: String,
    timeout: std::time::Duration,
}

impl PendingConfirm {
    pub(crate) async fn acknowledged(self) -> Result<(), PublishError> {
        let Self {
            confirm,
            routing_key,
            exchange,
            url,
            timeout,
        } = self;
        let error = |e: &dyn std::fmt::Display| PublishError::new(e, &url);
        match tokio::time::timeout(timeout, confirm).await {
            Ok(Ok(Confirmation::Ack(None))) => Ok(()),
            Ok(Ok(Confirmation::Ack(Some(_)))) => Err(error(&format_args!(
                "no queue is bound to the exchange `{exchange}` for the routing key `{routing_key}` (RabbitMQ returned the message); it stays in the backlog until one is"
            ))),
            Ok(Ok(_)) => Err(error(&format_args!(
                "RabbitMQ refused (nack) the message to `{exchange}` with routing key `{routing_key}`"
            ))),
            Ok(Err(e)) => Err(error(&format_args!(
                "publishing to the exchange `{exchange}`: {e}"
            ))),
            Err(_) => Err(error(&format_args!(
                "no confirm from RabbitMQ within {} ms",
                timeout.as_millis()
            ))),
        }
    }
}
