//! The success envelope: `{"data": ..., "meta": {"requestId": ..., ...}}`.

use axum::Json;
use serde_json::{Map, Value};

use crate::request_id;

/// Wraps `data` in the envelope; `extra_meta` entries join `requestId` under `meta`.
pub fn envelope(data: Value, extra_meta: Map<String, Value>) -> Json<Value> {
    Json(envelope_with_id(data, extra_meta, request_id::current()))
}

/// [`envelope`] naming `request_id` (for responses rendered away from the request's task, such
/// as an idempotent write's, rendered inside its transaction).
pub fn envelope_with_id(data: Value, extra_meta: Map<String, Value>, request_id: String) -> Value {
    let mut meta = Map::with_capacity(extra_meta.len() + 1);
    meta.insert("requestId".into(), Value::String(request_id));
    meta.extend(extra_meta);
    // Built by moving `data` in: `json!` would serialize it into a deep copy first, which on a
    // record read cost as much as serializing the answer.
    let mut body = Map::with_capacity(2);
    body.insert("data".into(), data);
    body.insert("meta".into(), Value::Object(meta));
    Value::Object(body)
}
