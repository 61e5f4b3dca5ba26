//! The JSON body extractor: checks the media type, the size limit and the nesting depth before
//! parsing, and turns every failure into our own problem, never axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use fathom_core::ErrorCode;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;

/// A request body that is one JSON object.
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "The request body must be JSON.",
                "Send the header `Content-Type: application/json`.",
            ));
        }
        let limit = state.config.body_limit_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                too_large(limit)
            } else {
                ApiError::new(
                    ErrorCode::MalformedJson,
                    "The request body could not be read.",
                    "Send the whole body with a correct Content-Length.",
                )
            }
        })?;
        if bytes.len() > limit {
            return Err(too_large(limit));
        }
        check_depth(&bytes, state.config.json_depth_limit)?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(ApiError::new(
                ErrorCode::MalformedJson,
                format!(
                    "The request body must be a JSON object, but it is {}.",
                    kind(&other)
                ),
                "Wrap the fields in an object, for example {\"name\": \"Lamp\"}.",
            )),
            Err(e) => Err(ApiError::new(
                ErrorCode::MalformedJson,
                format!("The request body is not valid JSON: {e}."),
                "Check the JSON syntax at the line and column given.",
            )),
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("The request body is larger than the limit of {limit} bytes."),
        "Send a smaller body, or raise `server.body_limit_bytes`.",
    )
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rejects bodies nested deeper than `limit` with one linear scan, before the recursive parser
/// ever sees them (so a hostile body cannot exhaust the stack or the parser's own limit).
fn check_depth(bytes: &[u8], limit: usize) -> Result<(), ApiError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Err(ApiError::new(
                        ErrorCode::JsonTooDeep,
                        format!("The JSON body nests deeper than {limit} levels."),
                        "Flatten the body; deeply nested data belongs in fewer levels.",
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_depth;

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert!(check_depth(br#"{"a":{"b":[1]}}"#, 3).is_ok());
        assert!(check_depth(br#"{"a":{"b":[1]}}"#, 2).is_err());
        assert!(check_depth(br#"{"a":"[[[[[[\"{{{{"}"#, 1).is_ok());
        assert!(check_depth(&[b'['; 100_000], 32).is_err());
    }
}
