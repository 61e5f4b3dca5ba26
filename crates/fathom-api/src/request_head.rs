//! Limits on the request head, checked before any routing work: a request target longer than
//! [`MAX_URI_BYTES`] is 414 `uri_too_long`; more than [`MAX_HEADERS`] header fields, or more
//! than [`MAX_HEADER_BYTES`] of names and values, is 431 `request_headers_too_large`. Both are
//! problem+json like every other error (hyper's own limits, far above these, are set in
//! `fathom`'s `http_server.rs`).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;

use crate::error::ApiError;

/// The longest path and query taken, in bytes: room for the longest filter (4096 bytes) even
/// if every byte of it is percent-escaped.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// The most header fields one request may carry.
pub const MAX_HEADERS: usize = 100;
/// The most bytes of header names and values one request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The middleware.
pub async fn check(request: Request, next: Next) -> Response {
    if let Some(refusal) = refusal(&request) {
        return refusal.into_response();
    }
    next.run(request).await
}

fn refusal(request: &Request) -> Option<ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::new(
            ErrorCode::UriTooLong,
            format!("The request target is {target} bytes long; the limit is {MAX_URI_BYTES}."),
            "Shorten the query string: a long filter can often be written with fewer or shorter \
             values, or split into several requests.",
        ));
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "The request carries {} header fields ({bytes} bytes); the limits are \
                 {MAX_HEADERS} fields and {MAX_HEADER_BYTES} bytes.",
                headers.len()
            ),
            "Send fewer or smaller headers (large cookies are the usual cause).",
        ));
    }
    None
}
