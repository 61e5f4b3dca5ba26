//! The message an event becomes: the Standard Webhooks body `{"type", "timestamp", "data"}`,
//! where `type` is `<collection>.<operation>` (`orders.create`), `timestamp` the commit time
//! and `data` the event as the change feed shows it to a service, without the collection's
//! hidden fields (they never leave the server: neither in `record` nor in `changed`; when
//! the collection is no longer served, nothing says which fields are hidden, so the record is
//! left out altogether).

use fathom_schema::Schema;
use fathom_store::Event;
use serde_json::{Value, json};

/// The body sent for `event`, as bytes (exactly what is signed).
pub fn body(schema: &Schema, mut event: Event) -> Vec<u8> {
    match schema.collection(&event.collection) {
        Some(collection) => {
            if let Some(record) = &mut event.record {
                for field in collection.fields.iter().filter(|f| f.hidden) {
                    record.remove(&field.name);
                }
            }
            event
                .changed
                .retain(|name| collection.field(name).is_none_or(|f| !f.hidden));
        }
        None => event.record = None,
    }
    let kind = format!("{}.{}", event.collection, event.operation.as_str());
    let timestamp = event.committed_at.clone();
    let message = json!({
        "type": kind,
        "timestamp": timestamp,
        "data": serde_json::to_value(&event).unwrap_or(Value::Null),
    });
    serde_json::to_vec(&message).unwrap_or_default()
}

/// The body of a test message (`fathom webhooks test`): type `webhook.test`.
pub fn test_body(endpoint_id: &str, timestamp: &str) -> Vec<u8> {
    let message = json!({
        "type": "webhook.test",
        "timestamp": timestamp,
        "data": {"endpoint": endpoint_id},
    });
    serde_json::to_vec(&message).unwrap_or_default()
}
