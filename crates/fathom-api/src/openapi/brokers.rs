//! The broker sinks' state (`GET /api/v1/admin/brokers`, and `brokers` in `/ready`): the path
//! item and the `BrokerSink` schema. They mirror `crate::admin::brokers` and
//! `fathom_brokers::SinkReport`.

use serde_json::{Map, Value, json};

use super::auth::{ADMIN_TAG, SERVER_ERRORS, bearer, list_envelope, statuses};
use super::operations::{ok, responses};
use super::schemas::schema_ref;

fn role() -> Value {
    json!({
        "type": "string",
        "enum": ["starting", "publishing", "standby", "stopped"],
        "description": "`publishing`: this node holds the sink's lease and publishes; `standby`: another node does, and this one takes over if that node stops renewing it.",
    })
}

fn breaker() -> Value {
    json!({ "type": "string", "enum": ["closed", "open", "half_open"] })
}

fn kind() -> Value {
    json!({ "type": "string", "enum": ["nats", "rabbitmq"] })
}

fn count(description: &str) -> Value {
    json!({ "type": "integer", "format": "int64", "minimum": 0, "description": description })
}

/// `BrokerSink`.
pub fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "BrokerSink".into(),
        json!({
            "type": "object",
            "description": "One broker sink as this node sees it.",
            "required": ["name", "kind", "role", "connected", "position", "latest", "backlog",
                "breaker", "failures", "last_error", "published"],
            "additionalProperties": false,
            "properties": {
                "name": { "type": "string" },
                "kind": kind(),
                "role": role(),
                "connected": { "type": "boolean", "description": "Whether this node is connected to the broker (false on a standby node)." },
                "position": count("The last sequence published (acknowledged by the broker) or skipped by the sink's selection."),
                "latest": count("The outbox's latest sequence when last read."),
                "backlog": count("`latest - position`: events committed but not yet published."),
                "breaker": breaker(),
                "failures": count("Failed attempts since the last success."),
                "last_error": { "type": ["string", "null"], "description": "The last failure, without URL or credentials; null after a success." },
                "published": count("Events this node has published since it started."),
            },
        }),
    );
    out
}

/// The `brokers` part of `/ready`, present when sinks are configured.
pub fn readiness_brokers() -> Value {
    json!({
        "type": "array",
        "description": "Each broker sink's backlog. A broker that is down delays its events (they wait in the outbox) but does not make the node unready.",
        "items": {
            "type": "object",
            "required": ["name", "kind", "role", "connected", "backlog", "breaker"],
            "properties": {
                "name": { "type": "string" },
                "kind": kind(),
                "role": role(),
                "connected": { "type": "boolean" },
                "backlog": count("Events committed but not yet published."),
                "breaker": breaker(),
            },
        },
    })
}

/// `/api/v1/admin/brokers`.
pub fn paths() -> Vec<(String, Value)> {
    let denied: &[u16] = &[401, 403];
    vec![(
        "/api/v1/admin/brokers".to_owned(),
        json!({ "get": {
            "tags": [ADMIN_TAG],
            "operationId": "adminListBrokers",
            "summary": "Broker sinks",
            "description": "Every NATS JetStream and RabbitMQ sink of the configuration (`[[brokers.nats]]`, `[[brokers.rabbitmq]]`), in configuration order, as this node sees it: whether it publishes here or stands by, its position in the outbox and backlog, its connection, breaker and last failure.",
            "security": bearer(),
            "responses": responses(
                &[("200", ok("The sinks (empty without any).", list_envelope("BrokerSink", schema_ref("Meta"))))],
                &statuses(&[denied, &SERVER_ERRORS]),
            ),
        }}),
    )]
}
