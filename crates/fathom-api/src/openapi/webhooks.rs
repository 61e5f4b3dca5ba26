//! `/api/v1/admin/webhooks`: the path items and schemas of webhook administration, mirroring
//! `crate::admin::webhooks` (see `docs/WEBHOOKS.md`).

use serde_json::{Map, Value, json};

use super::auth::{
    ADMIN_TAG, BODY_ERRORS, SERVER_ERRORS, bearer, body, id_parameter, list_envelope, no_content,
    statuses,
};
use super::auth_schemas::{nullable_text, object, request};
use super::operations::{ok, responses, single_envelope};
use super::schemas::schema_ref;

fn int(description: &str) -> Value {
    json!({ "type": "integer", "description": description })
}

fn nullable_int(description: &str) -> Value {
    json!({ "type": ["integer", "null"], "description": description })
}

fn names(description: &str) -> Value {
    json!({ "type": "array", "maxItems": 100, "items": { "type": "string" }, "description": description })
}

fn settings() -> Vec<(&'static str, Value)> {
    vec![
        (
            "description",
            json!({ "type": ["string", "null"], "maxLength": 500 }),
        ),
        (
            "collections",
            names("Collections whose events are sent; empty: all."),
        ),
        (
            "operations",
            json!({ "type": "array", "items": { "type": "string", "enum": ["create", "update", "delete"] }, "description": "Operations sent; empty: all." }),
        ),
        (
            "filter",
            json!({ "type": ["string", "null"], "maxLength": fathom_query::MAX_EXPRESSION_BYTES, "description": "An expression over the record after the change; needs `collections`." }),
        ),
        ("enabled", json!({ "type": "boolean" })),
        (
            "tenant",
            json!({ "type": ["string", "null"], "maxLength": 128, "description": "Only this tenant's events." }),
        ),
    ]
}

pub fn schemas() -> Map<String, Value> {
    let url = json!({ "type": "string", "maxLength": 2048, "format": "uri", "description": "An http(s) URL reaching a public address." });
    let mut endpoint = Map::new();
    endpoint.insert("id".into(), json!({ "type": "string", "format": "uuid" }));
    endpoint.insert("url".into(), url.clone());
    for (name, schema) in settings() {
        endpoint.insert(name.into(), schema);
    }
    endpoint.insert(
        "description".into(),
        nullable_text("What the endpoint is for."),
    );
    endpoint.insert(
        "filter".into(),
        nullable_text("The filter expression, if any."),
    );
    endpoint.insert("tenant".into(), nullable_text("The tenant bound, if any."));
    endpoint.insert(
        "disabled_reason".into(),
        nullable_text("Why delivery stopped by itself (a `410 Gone`)."),
    );
    endpoint.insert(
        "created_at_ms".into(),
        int("Milliseconds since the Unix epoch."),
    );
    endpoint.insert(
        "updated_at_ms".into(),
        int("Milliseconds since the Unix epoch."),
    );
    endpoint.insert("position".into(), int("The last sequence handled."));
    endpoint.insert(
        "holder".into(),
        nullable_text("The node delivering, while one holds the lease."),
    );
    endpoint.insert(
        "breaker".into(),
        json!({
            "type": "object",
            "required": ["state", "consecutive_failures"],
            "properties": {
                "state": { "type": "string", "enum": ["closed", "open", "half_open"] },
                "consecutive_failures": { "type": "integer" },
            },
        }),
    );
    endpoint.insert(
        "dead_letters".into(),
        int("Messages dead-lettered and not replayed."),
    );
    endpoint.insert(
        "live_secrets".into(),
        int("Secrets signing each message (2 during a rotation)."),
    );
    let mut created = endpoint.clone();
    created.insert(
        "secret".into(),
        json!({ "type": "string", "description": "The signing secret (`whsec_...`), shown this once." }),
    );
    let mut attempt = Map::new();
    attempt.insert("id".into(), int("The attempt's id (pages go by `before`)."));
    attempt.insert(
        "sequence".into(),
        int("The event's sequence (0 for a test message)."),
    );
    attempt.insert(
        "event_id".into(),
        json!({ "type": "string", "description": "The `webhook-id` sent." }),
    );
    attempt.insert(
        "attempt".into(),
        int("1 for the first attempt of the message."),
    );
    attempt.insert(
        "at_ms".into(),
        int("When the attempt started, milliseconds since the Unix epoch."),
    );
    attempt.insert(
        "status".into(),
        nullable_int("The response status, if one came."),
    );
    attempt.insert("duration_ms".into(), int("How long the attempt took."));
    attempt.insert(
        "response".into(),
        json!({ "type": "string", "description": "The first KiB of the response body." }),
    );
    attempt.insert("error".into(), nullable_text("Why no status came."));
    attempt.insert(
        "outcome".into(),
        json!({ "type": "string", "enum": ["delivered", "failed", "dead", "gone"] }),
    );
    let mut dead = Map::new();
    dead.insert("sequence".into(), int("The event's sequence."));
    dead.insert("event_id".into(), json!({ "type": "string" }));
    dead.insert("at_ms".into(), int("When it was dead-lettered."));
    dead.insert("attempts".into(), int("Attempts made."));
    dead.insert("last_error".into(), json!({ "type": "string" }));
    let mut test = Map::new();
    test.insert("message_id".into(), json!({ "type": "string" }));
    test.insert("delivered".into(), json!({ "type": "boolean" }));
    test.insert(
        "status".into(),
        nullable_int("The response status, if one came."),
    );
    test.insert("duration_ms".into(), int("How long the attempt took."));
    test.insert("response".into(), json!({ "type": "string" }));
    test.insert("error".into(), nullable_text("Why no status came."));
    let mut rotated = Map::new();
    rotated.insert("id".into(), json!({ "type": "string" }));
    rotated.insert(
        "secret".into(),
        json!({ "type": "string", "description": "The new secret, shown this once." }),
    );
    rotated.insert(
        "previous_valid_for_secs".into(),
        int("How long the previous secret keeps signing."),
    );
    let mut queued = Map::new();
    queued.insert("queued".into(), int("Messages queued for delivery."));
    let mut out = Map::new();
    out.insert(
        "WebhookEndpoint".into(),
        object("A webhook endpoint (never its secret)", endpoint),
    );
    out.insert(
        "CreatedWebhookEndpoint".into(),
        object("A new webhook endpoint, with its secret", created),
    );
    out.insert(
        "WebhookAttempt".into(),
        object("A delivery attempt", attempt),
    );
    out.insert(
        "WebhookDeadLetter".into(),
        object("A dead-lettered message", dead),
    );
    out.insert(
        "WebhookTestResult".into(),
        object("The answer to a test message", test),
    );
    out.insert("WebhookSecret".into(), object("A rotated secret", rotated));
    out.insert(
        "WebhookReplayQueued".into(),
        object("Messages queued again", queued),
    );
    let optional = settings();
    out.insert(
        "NewWebhookEndpoint".into(),
        request("A new webhook endpoint", &[("url", url.clone())], &optional),
    );
    let mut changes_optional = vec![("url", url)];
    changes_optional.extend(optional);
    out.insert(
        "WebhookEndpointChanges".into(),
        request("Webhook endpoint changes", &[], &changes_optional),
    );
    out.insert(
        "WebhookReplay".into(),
        json!({
            "title": "Which messages to deliver again",
            "oneOf": [
                { "type": "object", "required": ["sequence"], "additionalProperties": false, "properties": { "sequence": { "type": "integer", "minimum": 1 } } },
                { "type": "object", "required": ["from", "to"], "additionalProperties": false, "properties": { "from": { "type": "integer", "minimum": 1 }, "to": { "type": "integer", "minimum": 1 } } },
                { "type": "object", "required": ["dead_letters"], "additionalProperties": false, "properties": { "dead_letters": { "const": true } } },
            ],
        }),
    );
    out
}

pub fn paths() -> Vec<(String, Value)> {
    let denied: &[u16] = &[401, 403];
    let id = || id_parameter("The endpoint's id, from `GET /api/v1/admin/webhooks`.");
    let meta = || schema_ref("Meta");
    let single = |description: &str, schema: &str| ok(description, single_envelope(schema));
    let post = |op: &str,
                summary: &str,
                description: &str,
                success: (&str, Value),
                errors: Vec<u16>| {
        json!({ "post": {
            "tags": [ADMIN_TAG], "operationId": op, "summary": summary, "description": description,
            "security": bearer(), "parameters": [id()],
            "responses": responses(&[success], &errors),
        }})
    };
    let mut replay = post(
        "adminReplayWebhook",
        "Replay messages",
        "Queues one message (`sequence`), a range of sequences still in the outbox (`from`, `to`) or every dead letter (`dead_letters: true`) for delivery again, ahead of new events. Audited.",
        (
            "202",
            single("How many were queued.", "WebhookReplayQueued"),
        ),
        statuses(&[&BODY_ERRORS, &[404], denied, &SERVER_ERRORS]),
    );
    replay["post"]["requestBody"] = body("WebhookReplay");
    vec![
        (
            "/api/v1/admin/webhooks".to_owned(),
            json!({
                "get": {
                    "tags": [ADMIN_TAG], "operationId": "adminListWebhooks", "summary": "List webhook endpoints",
                    "description": "Every endpoint, oldest first, with its delivery position, lease holder, circuit breaker and dead-letter count. Never a secret.",
                    "security": bearer(),
                    "responses": responses(
                        &[("200", ok("The endpoints.", list_envelope("WebhookEndpoint", meta())))],
                        &statuses(&[denied, &SERVER_ERRORS]),
                    ),
                },
                "post": {
                    "tags": [ADMIN_TAG], "operationId": "adminCreateWebhook", "summary": "Create a webhook endpoint",
                    "description": "Events committed from now on that the selection takes are delivered, signed (Standard Webhooks). The URL is checked by the SSRF guard (400 `webhook_destination_blocked`, `webhook_url_invalid`, `webhook_url_unresolvable`); the filter against the collections (400 `webhook_filter_invalid`). The answer holds the secret, once. Audited.",
                    "security": bearer(),
                    "requestBody": body("NewWebhookEndpoint"),
                    "responses": responses(
                        &[("201", single("The endpoint, with its secret shown this once.", "CreatedWebhookEndpoint"))],
                        &statuses(&[&BODY_ERRORS, denied, &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            "/api/v1/admin/webhooks/{id}".to_owned(),
            json!({
                "get": {
                    "tags": [ADMIN_TAG], "operationId": "adminGetWebhook", "summary": "Get a webhook endpoint",
                    "security": bearer(), "parameters": [id()],
                    "responses": responses(&[("200", single("The endpoint.", "WebhookEndpoint"))], &statuses(&[&[404], denied, &SERVER_ERRORS])),
                },
                "patch": {
                    "tags": [ADMIN_TAG], "operationId": "adminUpdateWebhook", "summary": "Change a webhook endpoint",
                    "description": "Only the settings sent change; enabling clears `disabled_reason`. Checked like a new endpoint. Audited.",
                    "security": bearer(), "parameters": [id()],
                    "requestBody": body("WebhookEndpointChanges"),
                    "responses": responses(&[("200", single("The changed endpoint.", "WebhookEndpoint"))], &statuses(&[&BODY_ERRORS, &[404], denied, &SERVER_ERRORS])),
                },
                "delete": {
                    "tags": [ADMIN_TAG], "operationId": "adminRemoveWebhook", "summary": "Remove a webhook endpoint",
                    "description": "With its attempt log, dead letters and position. Audited.",
                    "security": bearer(), "parameters": [id()],
                    "responses": responses(&[("204", no_content("Removed; no body."))], &statuses(&[&[404], denied, &SERVER_ERRORS])),
                },
            }),
        ),
        (
            "/api/v1/admin/webhooks/{id}/rotate-secret".to_owned(),
            post(
                "adminRotateWebhookSecret",
                "Rotate the signing secret",
                "A new secret signs every message from now on; the previous ones keep signing beside it for `webhooks.secret_overlap_secs`. Audited.",
                (
                    "200",
                    single("The new secret, shown this once.", "WebhookSecret"),
                ),
                statuses(&[&[404], denied, &SERVER_ERRORS]),
            ),
        ),
        (
            "/api/v1/admin/webhooks/{id}/test".to_owned(),
            post(
                "adminTestWebhook",
                "Send a test message",
                "One signed `webhook.test` message now, not retried; logged with sequence 0.",
                (
                    "200",
                    single("What the receiver answered.", "WebhookTestResult"),
                ),
                statuses(&[&[404], denied, &SERVER_ERRORS]),
            ),
        ),
        (
            "/api/v1/admin/webhooks/{id}/attempts".to_owned(),
            json!({ "get": {
                "tags": [ADMIN_TAG], "operationId": "adminListWebhookAttempts", "summary": "Read the attempt log",
                "description": "Newest first: status, duration, the first KiB of the response. `meta.next_before` pages on.",
                "security": bearer(),
                "parameters": [
                    id(),
                    { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } },
                    { "name": "before", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1 } },
                ],
                "responses": responses(
                    &[("200", ok("Attempts.", list_envelope("WebhookAttempt", json!({ "type": "object" }))))],
                    &statuses(&[&[400, 404], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            "/api/v1/admin/webhooks/{id}/dead-letters".to_owned(),
            json!({ "get": {
                "tags": [ADMIN_TAG], "operationId": "adminListWebhookDeadLetters", "summary": "List dead letters",
                "description": "Messages whose last attempt failed, in sequence order, until replayed.",
                "security": bearer(), "parameters": [id()],
                "responses": responses(
                    &[("200", ok("Dead letters.", list_envelope("WebhookDeadLetter", meta())))],
                    &statuses(&[&[404], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
        ("/api/v1/admin/webhooks/{id}/replay".to_owned(), replay),
    ]
}
