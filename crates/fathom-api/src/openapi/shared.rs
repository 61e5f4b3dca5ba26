//! The component schemas every endpoint shares: the problem body (RFC 9457) with its field
//! entries, and the `meta` of the success envelope (one record, or a page of them).

use fathom_core::ErrorCode;
use serde_json::{Value, json};

use super::schemas::schema_ref;

/// The problem body (RFC 9457) every error answers with.
pub fn problem_schema() -> Value {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "type": "object",
        "title": "A problem (RFC 9457)",
        "required": ["type", "title", "status", "detail", "code", "hint", "errors", "requestId"],
        "properties": {
            "type": { "type": "string", "format": "uri", "description": "`urn:fathom:problem:` followed by the code.", "examples": ["urn:fathom:problem:validation_failed"] },
            "title": { "type": "string", "description": "A short summary of the problem type." },
            "status": { "type": "integer", "description": "The HTTP status." },
            "detail": { "type": "string", "description": "What was wrong with this request." },
            "code": { "type": "string", "enum": codes, "description": "The stable, machine-readable code. See `x-error-codes`." },
            "hint": { "type": "string", "description": "How to fix it." },
            "errors": { "type": "array", "items": schema_ref("FieldProblem"), "description": "One entry per offending field or parameter; often empty." },
            "requestId": { "type": "string", "description": "Also in the `X-Request-Id` header; quote it when reporting a problem." },
        },
    })
}

/// One entry of a problem's `errors`.
pub fn field_problem_schema() -> Value {
    json!({
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {
            "field": { "type": "string", "description": "The field or query parameter." },
            "code": { "type": "string", "description": "What is wrong with it, such as `required`, `invalid_format`, `not_unique`.", "examples": ["required"] },
            "message": { "type": "string" },
        },
    })
}

/// `meta` of a single-record envelope.
pub fn meta_schema() -> Value {
    json!({
        "type": "object",
        "required": ["requestId"],
        "properties": {
            "requestId": { "type": "string", "description": "Also in the `X-Request-Id` header." },
        },
    })
}

/// `meta` of a list envelope: the request id and the page.
pub fn list_meta_schema() -> Value {
    json!({
        "type": "object",
        "required": ["requestId", "page"],
        "properties": {
            "requestId": { "type": "string" },
            "page": {
                "type": "object",
                "required": ["limit", "offset", "next"],
                "properties": {
                    "limit": { "type": "integer", "minimum": 1, "description": "The page size used." },
                    "offset": { "type": "integer", "minimum": 0, "description": "The records skipped: the request's `offset`, 0 on cursor pages." },
                    "next": { "type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last page." },
                    "total": { "type": "integer", "minimum": 0, "description": "Every matching record; present with `count=true`." },
                },
                "additionalProperties": false,
            },
        },
    })
}
