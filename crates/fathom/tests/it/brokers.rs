//! Broker sinks against real brokers: NATS JetStream (`FATHOM_TEST_NATS_URL`, or a private
//! nats-server a test stops and restarts) and RabbitMQ (`FATHOM_TEST_AMQP_URL`), both started
//! by `scripts/brokers.sh` (which `scripts/test.sh` sources). Events arrive in sequence order
//! with their ids and subjects or routing keys, hidden fields stripped; JetStream discards a
//! republished event; a broker that goes away builds a backlog (visible in `/ready` and the
//! admin API) that drains in order when it returns; a server killed with SIGKILL mid-stream
//! loses nothing after its restart.

mod crash;
mod nats;
mod rabbitmq;
pub mod support;
