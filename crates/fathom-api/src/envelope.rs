//! The success envelope: `{"data": ..., "meta": {"requestId": ..., ...}}`.

use axum::Json;
use serde_json::{Map, Value, json};

use crate::request_id;

/// Wraps `data` in the envelope; `extra_meta` entries join `requestId` under `meta`.
pub fn envelope(data: Value, extra_meta: Map<String, Value>) -> Json<Value> {
    let mut meta = Map::with_capacity(extra_meta.len() + 1);
    meta.insert("requestId".into(), Value::String(request_id::current()));
    meta.extend(extra_meta);
    Json(json!({ "data": data, "meta": meta }))
}
