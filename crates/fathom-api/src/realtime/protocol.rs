//! The realtime protocol's messages, the same on both transports: what a client sends (parsed
//! strictly, every problem an [`ApiError`] with a stable code) and the frames the server sends.
//! Every frame is a JSON object with a `type`; on SSE the type is also the `event:` name and an
//! event frame's sequence is its `id:`.

use std::borrow::Cow;
use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_events::Announce;
use fathom_store::Event;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::error::ApiError;

/// A message from a WebSocket client.
pub enum ClientMessage {
    /// The first message (credentials, resume point, initial subscriptions), or a fresh token on
    /// a live connection.
    Auth(AuthMessage),
    Subscribe(SubscribeRequest),
    Unsubscribe {
        id: String,
    },
    Ping,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthMessage {
    /// An access token or API key; absent for an anonymous connection.
    #[serde(default)]
    pub token: Option<String>,
    /// The last sequence the client holds (first message only).
    #[serde(default)]
    pub resume: Option<i64>,
    /// Subscriptions to open before any event is delivered (first message only).
    #[serde(default)]
    pub subscriptions: Vec<SubscribeRequest>,
}

/// One subscription asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// Chosen by the client; unique on the connection.
    pub id: String,
    pub collection: String,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    pub snapshot: Option<SnapshotRequest>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    pub limit: u32,
}

/// The longest subscription id accepted, in bytes.
pub const MAX_SUBSCRIPTION_ID: usize = 64;

pub fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidMessage,
        detail,
        "Send a JSON object with a `type` of auth, subscribe, unsubscribe or ping, as docs/REALTIME.md describes.",
    )
}

fn field<T: for<'de> Deserialize<'de>>(
    object: Map<String, Json>,
    kind: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(Json::Object(object))
        .map_err(|e| invalid(format!("The `{kind}` message is not valid: {e}.")))
}

/// Parses one client message of at most `max_bytes`.
pub fn parse_message(text: &str, max_bytes: usize) -> Result<ClientMessage, ApiError> {
    if text.len() > max_bytes {
        return Err(too_large(text.len(), max_bytes));
    }
    let Ok(Json::Object(mut object)) = serde_json::from_str::<Json>(text) else {
        return Err(invalid("The message is not a JSON object."));
    };
    let kind = match object.remove("type") {
        Some(Json::String(kind)) => kind,
        _ => return Err(invalid("The message has no `type` string.")),
    };
    let message = match kind.as_str() {
        "auth" => ClientMessage::Auth(field(object, "auth")?),
        "subscribe" => ClientMessage::Subscribe(field(object, "subscribe")?),
        "unsubscribe" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Unsubscribe {
                id: String,
            }
            let Unsubscribe { id } = field(object, "unsubscribe")?;
            ClientMessage::Unsubscribe { id }
        }
        "ping" if object.is_empty() => ClientMessage::Ping,
        "ping" => return Err(invalid("The `ping` message takes no fields.")),
        other => {
            let shown: String = other.chars().take(32).collect();
            return Err(invalid(format!("`{shown}` is not a message type.")));
        }
    };
    Ok(message)
}

pub fn too_large(size: usize, max_bytes: usize) -> ApiError {
    ApiError::new(
        ErrorCode::MessageTooLarge,
        format!("The message has {size} bytes; the most accepted is {max_bytes}."),
        "Send fewer subscriptions per message, or shorter filters.",
    )
}

/// How one subscription (by id) announces an event, and the record it shows, if any.
pub type EventMatch<'a> = (&'a str, Announce, Option<Map<String, Json>>);

/// One frame for the client.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The `type` (the SSE event name).
    pub kind: &'static str,
    /// The sequence of an event frame (the SSE `id:`).
    pub seq: Option<i64>,
    pub body: Json,
    /// The text already rendered (an event frame shared between connections); `body` is then
    /// `null`.
    rendered: Option<Arc<str>>,
}

impl Frame {
    /// Whether the server ends the connection with this frame.
    pub fn is_last(&self) -> bool {
        matches!(self.kind, "closing" | "lagged")
    }

    fn new(kind: &'static str, mut body: Map<String, Json>) -> Self {
        body.insert("type".into(), Json::from(kind));
        let mut ordered = Map::with_capacity(body.len());
        if let Some(kind) = body.remove("type") {
            ordered.insert("type".into(), kind);
        }
        ordered.extend(body);
        Self {
            kind,
            seq: None,
            body: Json::Object(ordered),
            rendered: None,
        }
    }

    /// The frame's JSON text.
    /// The frame's JSON text (borrowed when it was rendered before, as shared event frames are).
    pub fn text(&self) -> Cow<'_, str> {
        match &self.rendered {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(self.body.to_string()),
        }
    }

    fn of(kind: &'static str, body: Json) -> Self {
        match body {
            Json::Object(map) => Self::new(kind, map),
            _ => Self::new(kind, Map::new()),
        }
    }

    /// The connection is open: events after `seq` follow.
    pub fn ready(seq: i64, heartbeat_ms: u128) -> Self {
        Self::of("ready", json!({ "seq": seq, "heartbeat_ms": heartbeat_ms })).at(seq)
    }

    /// Marks the frame with the connection's position (the SSE `id:`, which a browser sends
    /// back as `Last-Event-ID` when it reconnects).
    fn at(mut self, seq: i64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// The subscription is live: every event after `seq` that it matches will be delivered.
    pub fn subscribed(sub: &str, collection: &str, seq: i64) -> Self {
        Self::of(
            "subscribed",
            json!({ "sub": sub, "collection": collection, "seq": seq }),
        )
        .at(seq)
    }

    /// The records matching a subscription as of `seq`.
    pub fn snapshot(sub: &str, seq: i64, records: Vec<Json>, more: bool) -> Self {
        Self::of(
            "snapshot",
            json!({ "sub": sub, "seq": seq, "records": records, "more": more }),
        )
        .at(seq)
    }

    pub fn unsubscribed(sub: &str) -> Self {
        Self::of("unsubscribed", json!({ "sub": sub }))
    }

    pub fn pong() -> Self {
        Self::of("pong", json!({}))
    }

    /// An event frame rendered before ([`Frame::event`]'s text), at sequence `seq`.
    pub fn rendered(seq: i64, text: Arc<str>) -> Self {
        Self {
            kind: "event",
            seq: Some(seq),
            body: Json::Null,
            rendered: Some(text),
        }
    }

    /// One event, with how each matching subscription (by id) announces it and the record it
    /// shows, if any.
    pub fn event(event: &Event, matches: Vec<EventMatch<'_>>) -> Self {
        let matches: Vec<Json> = matches
            .into_iter()
            .map(|(sub, announce, record)| {
                let mut item = json!({ "sub": sub, "op": announce.as_str() });
                if let Some(record) = record {
                    item["record"] = Json::Object(record);
                }
                item
            })
            .collect();
        Self::of(
            "event",
            json!({
                "seq": event.sequence,
                "collection": event.collection,
                "id": event.record_id,
                "version": event.version,
                "committed_at": event.committed_at,
                "matches": matches,
            }),
        )
        .at(event.sequence)
    }

    /// A problem that leaves the connection open (`sub` names the subscription concerned).
    pub fn error(error: &ApiError, sub: Option<&str>) -> Self {
        let mut body = problem(error);
        if let Some(sub) = sub {
            body.insert("sub".into(), Json::from(sub));
        }
        Self::new("error", body)
    }

    /// The last frame of a connection the server ends, with the point to resume after (absent
    /// when resuming cannot help).
    pub fn closing(error: &ApiError, resume: Option<i64>) -> Self {
        let mut body = problem(error);
        if let Some(resume) = resume {
            body.insert("resume".into(), Json::from(resume));
        }
        let kind = if error.code == ErrorCode::Lagged {
            "lagged"
        } else {
            "closing"
        };
        let frame = Self::new(kind, body);
        match resume {
            Some(resume) => frame.at(resume),
            None => frame,
        }
    }
}

fn problem(error: &ApiError) -> Map<String, Json> {
    let mut body = Map::new();
    body.insert("code".into(), Json::from(error.code.as_str()));
    body.insert("status".into(), Json::from(error.code.http_status()));
    body.insert("title".into(), Json::from(error.code.title()));
    body.insert("detail".into(), Json::from(error.detail.clone()));
    body.insert("hint".into(), Json::from(error.hint.clone()));
    if !error.errors.is_empty() {
        let errors: Vec<Json> = error
            .errors
            .iter()
            .map(|e| json!({ "field": e.field, "code": e.code, "message": e.message }))
            .collect();
        body.insert("errors".into(), Json::Array(errors));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(text: &str) -> &'static str {
        match parse_message(text, 1024) {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        }
    }

    #[test]
    fn messages_parse_strictly() {
        assert_eq!(code_of(r#"{"type":"ping"}"#), "ok");
        assert_eq!(code_of(r#"{"type":"auth"}"#), "ok");
        assert_eq!(
            code_of(r#"{"type":"subscribe","id":"a","collection":"c","snapshot":{"limit":5}}"#),
            "ok"
        );
        assert_eq!(code_of(r#"{"type":"unsubscribe","id":"a"}"#), "ok");
        for bad in [
            "",
            "null",
            "[]",
            r#"{"type":1}"#,
            r#"{"type":"ping","x":1}"#,
            r#"{"type":"subscribe","id":"a"}"#,
            r#"{"type":"subscribe","id":"a","collection":"c","extra":true}"#,
            r#"{"type":"auth","resume":"seven"}"#,
            r#"{"type":"unsubscribe"}"#,
            r#"{"type":"hello"}"#,
        ] {
            assert_eq!(code_of(bad), "invalid_message", "{bad}");
        }
        assert_eq!(
            code_of(&format!(
                r#"{{"type":"ping","pad":"{}"}}"#,
                "x".repeat(2000)
            )),
            "message_too_large"
        );
    }

    #[test]
    fn an_error_frame_is_a_problem_with_its_subscription() {
        let error = ApiError::new(ErrorCode::SubscriptionExists, "Taken.", "Choose another.");
        let frame = Frame::error(&error, Some("a"));
        assert_eq!(frame.kind, "error");
        assert_eq!(frame.seq, None);
        assert_eq!(
            frame.body,
            json!({
                "type": "error",
                "code": "subscription_exists",
                "status": 409,
                "title": "Subscription id in use",
                "detail": "Taken.",
                "hint": "Choose another.",
                "sub": "a",
            })
        );
        let lagged = ApiError::new(ErrorCode::Lagged, "Slow.", "Read faster.");
        let frame = Frame::closing(&lagged, Some(41));
        assert_eq!((frame.kind, frame.seq), ("lagged", Some(41)));
        assert_eq!(frame.body["resume"], 41);
        assert!(frame.is_last());
    }
}
