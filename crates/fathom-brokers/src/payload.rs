//! What a sink publishes for one event: the event's JSON as the change feed
//! (`GET /api/v1/events`) renders it, with the hidden fields of its collection removed from
//! `record` and `changed`. Hidden fields never leave the server through a broker: a broker has
//! no caller whose rights could be checked, so it gets what a service key gets.

use fathom_schema::Schema;
use fathom_store::{Event, EventOperation};

/// One event, ready to publish.
#[derive(Debug, Clone)]
pub struct Message {
    pub sequence: i64,
    /// The event's id: `Nats-Msg-Id` on NATS, `message_id` on RabbitMQ.
    pub id: String,
    pub collection: String,
    pub operation: EventOperation,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl Message {
    /// `event` as published under `schema` (the schema served now). When the collection is no
    /// longer served nothing says which of its fields are hidden, so the record is left out
    /// (`null`) and `changed` is emptied.
    pub fn of(mut event: Event, schema: &Schema) -> Self {
        match schema.collection(&event.collection) {
            Some(collection) => {
                for field in collection.fields.iter().filter(|f| f.hidden) {
                    if let Some(record) = event.record.as_mut() {
                        record.remove(&field.name);
                    }
                    event.changed.retain(|name| name != &field.name);
                }
            }
            None => {
                event.record = None;
                event.changed.clear();
            }
        }
        // An event is plain data (strings, numbers, maps): serialising it cannot fail.
        let body = serde_json::to_vec(&event).unwrap_or_default();
        Self {
            sequence: event.sequence,
            id: event.id.hyphenated().to_string(),
            collection: event.collection,
            operation: event.operation,
            body,
        }
    }

    /// `<collection>.<operation>`: the tail of a NATS subject and of a RabbitMQ routing key.
    /// Collection names are identifiers (`[a-z][a-z0-9_]*`), so this is always two tokens.
    pub fn topic(&self) -> String {
        format!("{}.{}", self.collection, self.operation.as_str())
    }
}
