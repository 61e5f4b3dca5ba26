//! The realtime endpoints in the document: the SSE stream, the WebSocket upgrade and tickets.
//! The frames themselves are a protocol of their own (`docs/REALTIME.md`); the document names
//! them in each description.

use serde_json::{Map, Value, json};

use super::auth::bearer;
use super::operations::{ok, request_id_header, responses, single_envelope};

const TAG: &str = "Realtime";

pub fn tag() -> Value {
    json!({
        "name": TAG,
        "description": "Changes as they commit, over Server-Sent Events or WebSocket: many \
            subscriptions per connection (a collection, a filter, a field selection), every change \
            the caller could read through REST, in global sequence order, resumable after the last \
            sequence on any node. The protocol is described in docs/REALTIME.md.",
    })
}

pub fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "RealtimeTicket".into(),
        json!({
            "type": "object",
            "required": ["ticket", "expires_in"],
            "properties": {
                "ticket": { "type": "string", "description": "Pass as `ticket` to GET /api/v1/realtime, once." },
                "expires_in": { "type": "integer", "minimum": 1, "description": "Seconds it stays valid." },
            },
        }),
    );
    out
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

pub fn paths() -> [(String, Value); 3] {
    let stream = json!({ "get": {
        "tags": [TAG],
        "operationId": "realtimeStream",
        "summary": "Subscribe over Server-Sent Events",
        "description": "Opens a `text/event-stream` that lasts until the client or the server \
            ends it. Each frame's `event:` is its type (`ready`, `subscribed`, `snapshot`, \
            `event`, `error`, `lagged`, `closing`) and its `data:` a JSON object; frames that \
            carry a position have it as `id:`, so `Last-Event-ID` (or `resume`) resumes exactly \
            after it. Credentials: `Authorization: Bearer` (access token or API key), or a \
            single-use `ticket`; none is an anonymous stream. Problems found before the stream \
            begins are problem+json answers: 400 `invalid_query`/`invalid_message`/\
            `resume_from_future`, 401 `unauthorized`/`ticket_invalid`, 404 \
            `collection_not_found`, 409 `subscription_exists`, 410 `resync_required`, 413 \
            `message_too_large`, 503 `service_unavailable` (also when the node holds \
            `realtime.max_connections`).",
        "parameters": [
            query("subscriptions", "A JSON array of subscriptions: `{\"id\", \"collection\", \"filter\"?, \"fields\"?, \"snapshot\"?: {\"limit\"}}`.", json!({ "type": "string" })),
            query("ticket", "A ticket from POST /api/v1/realtime/tickets (browsers, which cannot send headers).", json!({ "type": "string" })),
            query("resume", "The last sequence received; the same as the `Last-Event-ID` header.", json!({ "type": "integer", "minimum": 0 })),
            { "name": "Last-Event-ID", "in": "header", "required": false, "description": "The last sequence received (browsers send it when they reconnect).", "schema": { "type": "integer", "minimum": 0 } },
        ],
        "responses": {
            "200": {
                "description": "The stream of frames.",
                "headers": request_id_header(),
                "content": { "text/event-stream": { "schema": { "type": "string" } } },
            },
            "400": { "$ref": "#/components/responses/BadRequest" },
            "401": { "$ref": "#/components/responses/Unauthorized" },
            "403": { "$ref": "#/components/responses/Forbidden" },
            "404": { "$ref": "#/components/responses/NotFound" },
            "409": { "$ref": "#/components/responses/Conflict" },
            "410": { "$ref": "#/components/responses/Gone" },
            "413": { "$ref": "#/components/responses/PayloadTooLarge" },
            "500": { "$ref": "#/components/responses/InternalError" },
            "503": { "$ref": "#/components/responses/ServiceUnavailable" },
        },
    }});
    let websocket = json!({ "get": {
        "tags": [TAG],
        "operationId": "realtimeWebSocket",
        "summary": "Subscribe over WebSocket",
        "description": "A WebSocket upgrade (101). The first message must be \
            `{\"type\":\"auth\",\"token\"?,\"resume\"?,\"subscriptions\"?}`; then `subscribe`, \
            `unsubscribe`, `auth` (a fresh token) and `ping`, each a JSON text frame, answered \
            with the frames of the SSE stream. A browser `Origin` must be allowed by \
            `server.cors_origins` or be the server's own (403 `origin_not_allowed`). A request \
            that is not an upgrade is 426 `upgrade_required`.",
        "responses": {
            "101": { "description": "Switching to the WebSocket protocol.", "headers": request_id_header() },
            "403": { "$ref": "#/components/responses/Forbidden" },
            "426": { "$ref": "#/components/responses/UpgradeRequired" },
            "500": { "$ref": "#/components/responses/InternalError" },
            "503": { "$ref": "#/components/responses/ServiceUnavailable" },
        },
    }});
    let tickets = json!({ "post": {
        "tags": [TAG],
        "operationId": "realtimeTicket",
        "summary": "Get a single-use SSE ticket",
        "description": "A ticket standing for the credential of this request, for \
            `GET /api/v1/realtime?ticket=...` within `expires_in` seconds, once, on this node. No \
            long-lived credential ever appears in a URL.",
        "security": bearer(),
        "responses": responses(
            &[("201", ok("The ticket.", single_envelope("RealtimeTicket")))],
            &[401, 500, 503],
        ),
    }});
    [
        ("/api/v1/realtime".to_owned(), stream),
        ("/api/v1/realtime/ws".to_owned(), websocket),
        ("/api/v1/realtime/tickets".to_owned(), tickets),
    ]
}
