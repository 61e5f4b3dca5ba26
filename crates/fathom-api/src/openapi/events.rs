//! The change feed (`GET /api/v1/events`): its path item and the schemas of an event and a page.
//! They mirror `crate::events`.

use serde_json::{Map, Value, json};

use super::auth::{SERVER_ERRORS, bearer, limit_parameter, list_envelope, statuses};
use super::operations::{ok, responses};
use super::schemas::schema_ref;
use crate::events::{DEFAULT_LIMIT, MAX_LIMIT};

/// The tag of the change feed.
pub const EVENTS_TAG: &str = "Events";

/// The component schemas: `Event` and `EventPageMeta`.
pub fn schemas() -> Map<String, Value> {
    let uuid = json!({ "type": "string", "format": "uuid" });
    let sequence = |description: &str| json!({ "type": "integer", "format": "int64", "minimum": 0, "description": description });
    let mut out = Map::new();
    out.insert(
        "Event".into(),
        json!({
            "type": "object",
            "description": "One committed change of one record.",
            "required": ["sequence", "id", "collection", "record_id", "operation", "version",
                "tenant", "changed", "record", "actor", "request_id", "committed_at"],
            "additionalProperties": false,
            "properties": {
                "sequence": sequence("Global, gap-free and increasing in commit order: once you have seen N, no event with a smaller number appears later."),
                "id": uuid,
                "collection": { "type": "string" },
                "record_id": uuid,
                "operation": { "type": "string", "enum": ["create", "update", "delete", "restore"] },
                "version": { "type": "integer", "format": "int64", "minimum": 1, "description": "The record's version after the change (for a delete that removes the row: its last version)." },
                "tenant": { "type": ["string", "null"] },
                "changed": {
                    "type": "array",
                    "items": { "type": "string" },
                    "description": "The fields written: all of them on create, the patched ones on update, none on delete. Hidden fields are left out for API keys.",
                },
                "record": {
                    "type": ["object", "null"],
                    "additionalProperties": true,
                    "description": "The record after the change as `GET` returns it to this reader (API keys never see hidden fields); null after a delete that removes the row.",
                },
                "actor": {
                    "type": "object",
                    "required": ["type"],
                    "additionalProperties": false,
                    "properties": {
                        "type": { "type": "string", "enum": ["user", "api_key", "system"] },
                        "id": { "type": "string", "format": "uuid", "description": "The user's or the API key's id; absent for `system`." },
                    },
                },
                "request_id": { "type": ["string", "null"], "description": "The `X-Request-Id` of the request that made the change." },
                "committed_at": { "type": "string", "format": "date-time" },
            },
        }),
    );
    out.insert(
        "EventPageMeta".into(),
        json!({
            "type": "object",
            "required": ["requestId", "next", "latest", "oldest"],
            "properties": {
                "requestId": { "type": "string" },
                "next": sequence("Pass as `after` for the next page: the last sequence returned, or `after` when none was."),
                "latest": sequence("The highest committed sequence (0 before the first event)."),
                "oldest": sequence("The oldest sequence still kept (0 when none is)."),
            },
        }),
    );
    out
}

/// The path item of the change feed.
pub fn paths() -> Vec<(String, Value)> {
    let limit = u32::try_from(MAX_LIMIT).unwrap_or(u32::MAX);
    let default = u32::try_from(DEFAULT_LIMIT).unwrap_or(u32::MAX);
    vec![(
        "/api/v1/events".to_owned(),
        json!({ "get": {
            "tags": [EVENTS_TAG],
            "operationId": "listEvents",
            "summary": "Read the change feed",
            "description": "Committed changes after `after`, in sequence order, for administrators and API keys with the scope `events:read` (a key confined to a tenant sees only that tenant's events; keys never see hidden fields). 400 `invalid_query` for a malformed `after` or `limit`, an unknown parameter, or an `after` beyond `latest`; 410 `events_expired` when the events after `after` are past retention (`events.retention_hours`, `events.retention_count`).",
            "security": bearer(),
            "parameters": [
                {
                    "name": "after", "in": "query", "required": false,
                    "description": "The last sequence already processed; 0 (the default) starts at the oldest kept event.",
                    "schema": { "type": "integer", "format": "int64", "minimum": 0, "default": 0 },
                },
                limit_parameter("Events per page.", default, limit),
            ],
            "responses": responses(
                &[("200", ok("A page of events.", list_envelope("Event", schema_ref("EventPageMeta"))))],
                &statuses(&[&[400, 401, 403, 410], &SERVER_ERRORS]),
            ),
        }}),
    )]
}
