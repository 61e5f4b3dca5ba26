//! The architect's advice (`GET /api/v1/admin/advice`): the path item and the `Finding`
//! schema. They mirror `crate::advice::route` and `fathom_architect::Finding`.

use serde_json::{Map, Value, json};

use super::auth::{ADMIN_TAG, SERVER_ERRORS, bearer, list_envelope, statuses};
use super::operations::{ok, responses};
use crate::advice::KINDS;

fn kind() -> Value {
    json!({ "type": "string", "enum": KINDS })
}

/// `Finding`.
pub fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "Finding".into(),
        json!({
            "type": "object",
            "description": "One piece of advice: what was found, what it rests on, its estimated gain and the exact change to make.",
            "required": ["kind", "severity", "title", "evidence", "change"],
            "additionalProperties": false,
            "properties": {
                "kind": kind(),
                "severity": { "type": "string", "enum": ["info", "warning", "critical"] },
                "collection": { "type": "string", "description": "The collection it is about, when one." },
                "title": { "type": "string", "description": "One line saying what was found." },
                "evidence": {
                    "type": "object",
                    "description": "What it rests on. Client findings: `caller_kind` (user, api_key or anonymous), `callers` (short salted hashes, never an identity), `occurrences`, `first_seen`, `last_seen`, `window` (the caller's recent reads as requests without values), `threshold`, `suggestion`, `example`, and the figures of the pattern.",
                },
                "gain": { "type": "string", "description": "The estimated gain, in words with numbers, when known." },
                "change": {
                    "type": "object",
                    "required": ["advice"],
                    "additionalProperties": false,
                    "properties": {
                        "schema_patch": { "type": "string", "description": "TOML lines to add to the schema file." },
                        "sql": { "type": "array", "items": { "type": "string" }, "description": "The migration's SQL on this server's database." },
                        "advice": { "type": "string", "description": "What to do, in words: for client advice, the request to make instead." },
                    },
                },
            },
        }),
    );
    out
}

/// `/api/v1/admin/advice`.
pub fn paths() -> Vec<(String, Value)> {
    let denied: &[u16] = &[401, 403];
    vec![(
        "/api/v1/admin/advice".to_owned(),
        json!({ "get": {
            "tags": [ADMIN_TAG],
            "operationId": "adminListAdvice",
            "summary": "The architect's advice",
            "description": "Every finding of this node, most severe and most frequent first. Client advice comes from the records reads this node served: N+1 bursts (many gets by id on one collection soon after a list, with the `expand` or `filter=id in [...]` to use instead), large offsets where a cursor would serve, `count=true` on every page of a large collection, and unbounded page scans; tallied per caller kind, collection and kind (`[architect.clients]` sets the bounds and thresholds).",
            "security": bearer(),
            "parameters": [{
                "name": "kind", "in": "query", "required": false,
                "description": "Only the findings of this kind (given once).",
                "schema": kind(),
            }],
            "responses": responses(
                &[("200", ok("The findings (empty when there is nothing to advise).", list_envelope("Finding", json!({
                    "type": "object",
                    "required": ["requestId", "indexesCheckedAt"],
                    "properties": {
                        "requestId": { "type": "string", "description": "Also in the `X-Request-Id` header." },
                        "indexesCheckedAt": { "type": "string", "format": "date-time", "description": "When the index findings were verified against the database's plans. They are held for a minute, so repeated calls start at most one verification a minute on this node; client findings are always current." },
                    },
                }))))],
                &statuses(&[&[400], denied, &SERVER_ERRORS]),
            ),
        }}),
    )]
}
