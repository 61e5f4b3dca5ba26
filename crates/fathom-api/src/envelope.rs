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

/// The text of [`envelope_with_id`] around `data`, already serialized, with one more `meta`
/// entry (`name`, its serialized value): the same bytes, in the same key order.
pub fn envelope_text(data: &str, request_id: &str, extra: Option<(&str, &str)>) -> String {
    let id = Value::String(request_id.to_owned()).to_string();
    let mut text = String::with_capacity(data.len() + id.len() + 64);
    text.push_str("{\"data\":");
    text.push_str(data);
    text.push_str(",\"meta\":{\"requestId\":");
    text.push_str(&id);
    if let Some((name, value)) = extra {
        text.push(',');
        text.push_str(&Value::String(name.to_owned()).to_string());
        text.push(':');
        text.push_str(value);
    }
    text.push_str("}}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_form_is_the_envelope_byte_for_byte() {
        let data = json!([{"id": "a", "title": "Ünïcode \"quoted\""}, {"n": 1.5}]);
        let page = json!({"limit": 20, "offset": 0, "next": null, "total": 2});
        let mut meta = Map::new();
        meta.insert("page".into(), page.clone());
        let expected = envelope_with_id(data.clone(), meta, "req-\"1\"".into()).to_string();
        let text = envelope_text(
            &data.to_string(),
            "req-\"1\"",
            Some(("page", &page.to_string())),
        );
        assert_eq!(text, expected);
        let expected = envelope_with_id(data.clone(), Map::new(), String::new()).to_string();
        assert_eq!(envelope_text(&data.to_string(), "", None), expected);
    }
}
