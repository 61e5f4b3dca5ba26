//! Realtime test clients: a WebSocket client (tokio-tungstenite) and an SSE client (a reqwest
//! stream and a small parser), both yielding the protocol's JSON frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::TestApp;

/// How long a test waits for one frame.
pub const WAIT: Duration = Duration::from_secs(10);

/// The schema of the realtime suites: rules per owner, a hidden field, a public collection, a
/// tenant-scoped one and one whose rule follows a relation.
pub const SCHEMA: &str = r#"
[collections.notes]
rules = { list = "owner = auth.id", view = "owner = auth.id", create = "owner = auth.id", update = "owner = auth.id", delete = "owner = auth.id" }
fields.owner  = { type = "uuid", required = true }
fields.body   = { type = "text", required = true }
fields.n      = { type = "integer", default = 0 }
fields.secret = { type = "text", hidden = true }

[collections.posts]
rules = { list = true, view = true }
fields.title = { type = "text", required = true }
fields.n     = { type = "integer", default = 0 }

[collections.memos]
tenant_scoped = true
rules = { list = true, view = true, create = true }
fields.body = { type = "text", required = true }

[collections.boards]
rules = { list = "owner = auth.id", view = "owner = auth.id" }
fields.owner = { type = "uuid", required = true }
fields.name  = { type = "text", required = true }

[collections.blobs]
rules = { list = true, view = true }
fields.data = { type = "text" }

[collections.cards]
rules = { list = "board.owner = auth.id", view = "board.owner = auth.id" }
fields.board = { type = "relation", collection = "boards", required = true }
fields.text  = { type = "text", required = true }
"#;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket realtime client.
pub struct Ws {
    pub socket: Socket,
}

pub fn ws_url(app: &TestApp) -> String {
    format!("ws://{}/api/v1/realtime/ws", app.address)
}

impl Ws {
    /// Opens the socket (no message sent yet).
    pub async fn open(app: &TestApp) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url(app))
            .await
            .expect("websocket connects");
        Self { socket }
    }

    /// Opens the socket and sends `auth` with `token`, `resume` and `subscriptions`; returns the
    /// client and its `ready` frame.
    pub async fn connect(
        app: &TestApp,
        token: Option<&str>,
        resume: Option<i64>,
        subscriptions: Value,
    ) -> (Self, Value) {
        let mut ws = Self::open(app).await;
        let mut auth = json!({"type": "auth", "subscriptions": subscriptions});
        if let Some(token) = token {
            auth["token"] = json!(token);
        }
        if let Some(resume) = resume {
            auth["resume"] = json!(resume);
        }
        ws.send(auth).await;
        let ready = ws.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (ws, ready)
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .expect("message sent");
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.socket
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .expect("message sent");
    }

    /// The next JSON frame (pings and pongs skipped); panics on close or after [`WAIT`].
    pub async fn next(&mut self) -> Value {
        self.try_next(WAIT).await.expect("a frame")
    }

    /// The next JSON frame within `wait`; `None` on timeout or close.
    pub async fn try_next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match message.ok()? {
                Message::Text(text) => {
                    return Some(serde_json::from_str(&text).expect("json frame"));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Whether the server closed the socket (within [`WAIT`]), skipping any frames before.
    pub async fn closed(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame, asserting its type.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let frame = self.next().await;
        assert_eq!(frame["type"], kind, "{frame}");
        frame
    }
}

/// Opens a WebSocket with an `Origin` header; the HTTP status of a refused upgrade.
pub async fn ws_with_origin(app: &TestApp, origin: &str) -> Result<Ws, u16> {
    let mut request = ws_url(app).into_client_request().expect("request");
    request
        .headers_mut()
        .insert("origin", origin.parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(Ws { socket }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

/// One SSE frame.
#[derive(Debug, Clone)]
pub struct SseFrame {
    pub event: String,
    pub id: Option<i64>,
    pub data: Value,
}

/// An SSE realtime client.
pub struct Sse {
    response: reqwest::Response,
    buffer: String,
}

/// The query string carrying `subscriptions`.
pub fn subscriptions_query(subscriptions: &Value) -> String {
    format!(
        "subscriptions={}",
        crate::query::support::encode(&subscriptions.to_string())
    )
}

impl Sse {
    /// `GET /api/v1/realtime?{query}` with `token` and `last_event_id`; the raw response.
    pub async fn request(
        app: &TestApp,
        query: &str,
        token: Option<&str>,
        last_event_id: Option<i64>,
    ) -> reqwest::Response {
        let mut request = app
            .anonymous
            .get(app.url(&format!("/api/v1/realtime?{query}")))
            .timeout(Duration::from_secs(600));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        request.send().await.expect("request sent")
    }

    /// Opens a stream, asserting a 200 `text/event-stream` answer and a `ready` frame.
    pub async fn open(
        app: &TestApp,
        subscriptions: &Value,
        token: Option<&str>,
        last_event_id: Option<i64>,
    ) -> (Self, SseFrame) {
        let response = Self::request(
            app,
            &subscriptions_query(subscriptions),
            token,
            last_event_id,
        )
        .await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut sse = Self {
            response,
            buffer: String::new(),
        };
        let ready = sse.next().await;
        assert_eq!(ready.event, "ready", "{ready:?}");
        (sse, ready)
    }

    /// The next frame (comments skipped); panics after [`WAIT`] or at the end of the stream.
    pub async fn next(&mut self) -> SseFrame {
        self.try_next(WAIT).await.expect("an SSE frame")
    }

    /// The next frame within `wait`; `None` on timeout or the end of the stream.
    pub async fn try_next(&mut self, wait: Duration) -> Option<SseFrame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(frame) = parse_block(&block) {
                    return Some(frame);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next frame, asserting its event name.
    pub async fn expect(&mut self, event: &str) -> SseFrame {
        let frame = self.next().await;
        assert_eq!(frame.event, event, "{frame:?}");
        frame
    }
}

fn parse_block(block: &str) -> Option<SseFrame> {
    let (mut event, mut id, mut data) = (String::from("message"), None, String::new());
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        any = true;
        match field {
            "event" => event = value.to_owned(),
            "id" => id = value.parse().ok(),
            "data" => data.push_str(value),
            _ => {}
        }
    }
    any.then(|| SseFrame {
        event,
        id,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    })
}

/// A subscription request.
pub fn sub(id: &str, collection: &str) -> Value {
    json!({"id": id, "collection": collection})
}

/// Creates a record as the test administrator (through REST) and returns its JSON.
pub async fn create(app: &TestApp, collection: &str, body: Value) -> Value {
    app.create(collection, &body).await
}

/// Patches a record as the test administrator and returns its JSON.
pub async fn patch(app: &TestApp, collection: &str, id: &Value, body: Value) -> Value {
    let response = app
        .patch_json(
            &format!("/api/v1/{collection}/{}", id.as_str().unwrap()),
            &body,
        )
        .await;
    let status = response.status();
    let json: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{json}");
    json["data"].clone()
}

/// Deletes a record as the test administrator.
pub async fn delete(app: &TestApp, collection: &str, id: &Value) {
    let response = app
        .delete(&format!("/api/v1/{collection}/{}", id.as_str().unwrap()))
        .await;
    assert_eq!(response.status(), 204);
}

/// A public record every realtime test client subscribes to as `marker`: once its event
/// arrives, every earlier event has arrived too (events come in sequence order).
pub async fn marker(app: &TestApp) -> Value {
    create(app, "posts", json!({"title": "marker"})).await["id"].clone()
}

impl Ws {
    /// The event frames before the event of record `marker` (which is consumed).
    pub async fn events_until(&mut self, marker: &Value) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let frame = self.next().await;
            assert_eq!(frame["type"], "event", "{frame}");
            if frame["id"] == *marker {
                return events;
            }
            events.push(frame);
        }
    }

    /// Every frame (of any kind) before the event of record `marker` (which is consumed).
    pub async fn events_until_any(&mut self, marker: &Value) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "event" && frame["id"] == *marker {
                return frames;
            }
            frames.push(frame);
        }
    }

    /// The next `n` event frames.
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            let frame = self.next().await;
            assert_eq!(frame["type"], "event", "{frame}");
            events.push(frame);
        }
        events
    }
}

impl Sse {
    /// The next `n` event frames.
    pub async fn events(&mut self, n: usize) -> Vec<SseFrame> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            events.push(self.expect("event").await);
        }
        events
    }
}

/// The announcements of `sub` in an event frame: `(op, record)`.
pub fn announced(frame: &Value, sub: &str) -> Option<(String, Value)> {
    frame["matches"]
        .as_array()?
        .iter()
        .find(|m| m["sub"] == sub)
        .map(|m| {
            (
                m["op"].as_str().unwrap_or("").to_owned(),
                m["record"].clone(),
            )
        })
}
