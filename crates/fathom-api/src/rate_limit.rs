//! Per-client rate limits (GCRA, via `governor`) with `RateLimit-*` headers on every limited
//! response and `Retry-After` on a 429. Today it guards the authentication endpoints.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::client_ip::client_ip;
use crate::error::ApiError;

/// A limit of `per_minute` requests per client address, refilled evenly over the minute.
#[derive(Clone)]
pub struct ClientRateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr, StateInformationMiddleware>>,
    per_minute: u32,
    trusted_proxies: Arc<Vec<IpAddr>>,
}

impl ClientRateLimit {
    pub fn per_minute(per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Self {
        let per_minute = per_minute.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        let limiter =
            DefaultKeyedRateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>();
        Self {
            limiter: Arc::new(limiter),
            per_minute,
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }
}

fn header(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// The middleware: counts the request against its client, answers 429 when over the limit.
pub async fn limit(State(limit): State<ClientRateLimit>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, &limit.trusted_proxies).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let request = Request::from_parts(parts, body);
    let seconds_per_cell = 60.0 / f64::from(limit.per_minute);
    let (mut response, remaining, reset) = match limit.limiter.check_key(&ip) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let used = limit.per_minute.saturating_sub(remaining);
            let reset = (f64::from(used) * seconds_per_cell).ceil() as u64;
            (next.run(request).await, remaining, reset)
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "Too many requests from this address; the limit is {} a minute.",
                    limit.per_minute
                ),
                format!("Wait {retry_after} s (see Retry-After) and try again."),
            )
            .into_response();
            response
                .headers_mut()
                .insert("retry-after", header(retry_after.max(1)));
            (response, 0, Duration::from_secs(60).as_secs())
        }
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", header(limit.per_minute));
    headers.insert("ratelimit-remaining", header(remaining));
    headers.insert("ratelimit-reset", header(reset));
    headers.insert(
        "ratelimit-policy",
        header(format!("{};w=60", limit.per_minute)),
    );
    response
}
