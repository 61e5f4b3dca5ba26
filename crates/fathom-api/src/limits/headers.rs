//! The fields every rate-limited answer carries, after draft-ietf-httpapi-ratelimit-headers
//! (-11): `RateLimit-Policy: "name";q=20;w=60` (quota and window in seconds) and
//! `RateLimit: "name";r=19;t=3` (requests remaining, seconds until the whole quota is back),
//! not the `RateLimit-Limit/-Remaining/-Reset` triple of -06 and earlier; and the 429 of a
//! refused request, with `Retry-After` (which wins over `t`) and a problem naming the policy.
//! Where limits nest, the innermost (the one closest to the handler) describes itself: an outer
//! limit leaves fields already set alone.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_limits::{Outcome, Quota};

use crate::error::ApiError;

fn header(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Sets the `RateLimit-Policy` and `RateLimit` fields of `policy`, unless an inner limit did.
pub(crate) fn describe(headers: &mut HeaderMap, policy: &str, quota: &Quota, outcome: &Outcome) {
    if headers.contains_key("ratelimit") {
        return;
    }
    headers.insert(
        "ratelimit-policy",
        header(format!(
            "\"{policy}\";q={};w={}",
            quota.count,
            quota.window_secs()
        )),
    );
    headers.insert(
        "ratelimit",
        header(format!(
            "\"{policy}\";r={};t={}",
            outcome.remaining,
            ceil_secs(outcome.reset)
        )),
    );
}

/// The 429 of a request refused by `policy` (`whose` says who was counted: "this address",
/// "this user", "this API key").
pub(crate) fn refusal(policy: &str, quota: &Quota, whose: &str, outcome: &Outcome) -> Response {
    let retry_after = ceil_secs(outcome.retry_after).max(1);
    let mut response = ApiError::new(
        ErrorCode::TooManyRequests,
        format!(
            "Too many requests from {whose} under the rate-limit policy \"{policy}\": at most {quota}."
        ),
        format!("Wait {retry_after} s (see Retry-After) and try again."),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert("retry-after", header(retry_after));
    describe(headers, policy, quota, outcome);
    response
}
