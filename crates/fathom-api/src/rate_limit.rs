//! Per-client rate limits (GCRA, via `governor`) with the `RateLimit-Policy` and `RateLimit`
//! structured fields of draft-ietf-httpapi-ratelimit-headers (-11: `"name";q=20;w=60` and
//! `"name";r=19;t=3`, replacing the `RateLimit-Limit/-Remaining/-Reset` triple of -06 and
//! earlier) on every limited response, and `Retry-After` on a 429. Today it guards the
//! authentication endpoints, one budget per family of routes ([`AuthRateLimits`]); a limit of 0
//! is switched off.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::client_ip::client_ip;
use crate::error::ApiError;

/// Requests a minute one client address may make to each family of auth routes; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRateLimits {
    /// `POST /login` and `POST /password` (both guess a password).
    pub login: u32,
    pub register: u32,
    pub verify: u32,
    pub refresh: u32,
    /// `POST /password-reset` and `POST /password-reset/confirm`.
    pub password_reset: u32,
    /// A budget shared by all of them, on top of their own.
    pub overall: u32,
}

impl AuthRateLimits {
    /// Every limit switched off.
    pub const OFF: Self = Self {
        login: 0,
        register: 0,
        verify: 0,
        refresh: 0,
        password_reset: 0,
        overall: 0,
    };
}

type Limiter = DefaultKeyedRateLimiter<IpAddr, StateInformationMiddleware>;

/// A limit of `per_minute` requests per client address, refilled evenly over the minute, or no
/// limit at all when `per_minute` is 0.
#[derive(Clone)]
pub struct ClientRateLimit {
    /// The policy's name in the headers, the 429 and the metrics (`auth_login` ...).
    name: &'static str,
    limiter: Option<Arc<Limiter>>,
    per_minute: u32,
    trusted_proxies: Arc<Vec<IpAddr>>,
    /// Requests this limit has refused, for `/metrics`.
    rejected: Arc<AtomicU64>,
}

impl ClientRateLimit {
    pub fn per_minute(name: &'static str, per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| {
            Arc::new(
                DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))
                    .with_middleware::<StateInformationMiddleware>(),
            )
        });
        Self {
            name,
            limiter,
            per_minute,
            trusted_proxies: Arc::new(trusted_proxies),
            rejected: Arc::default(),
        }
    }

    fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// The limiters of the auth routes, one per family of [`AuthRateLimits`]. Built once with the
/// auth state, so a schema reload (which rebuilds the router) keeps every client's buckets.
#[derive(Clone)]
pub struct AuthLimiters {
    pub login: ClientRateLimit,
    pub register: ClientRateLimit,
    pub verify: ClientRateLimit,
    pub refresh: ClientRateLimit,
    pub password_reset: ClientRateLimit,
    pub overall: ClientRateLimit,
}

impl AuthLimiters {
    pub fn new(limits: AuthRateLimits, trusted_proxies: &[IpAddr]) -> Self {
        let limit = |name, per_minute| {
            ClientRateLimit::per_minute(name, per_minute, trusted_proxies.to_vec())
        };
        Self {
            login: limit("auth_login", limits.login),
            register: limit("auth_register", limits.register),
            verify: limit("auth_verify", limits.verify),
            refresh: limit("auth_refresh", limits.refresh),
            password_reset: limit("auth_password_reset", limits.password_reset),
            overall: limit("auth_overall", limits.overall),
        }
    }

    /// `(policy, requests refused)` of every auth limit.
    pub fn rejections(&self) -> [(&'static str, u64); 6] {
        [
            &self.login,
            &self.register,
            &self.verify,
            &self.refresh,
            &self.password_reset,
            &self.overall,
        ]
        .map(|limit| (limit.name, limit.rejected()))
    }
}

fn header(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// The middleware: counts the request against its client, answers 429 when over the limit.
/// Where limits nest, the innermost (the route's own) describes itself in the `RateLimit-Policy`
/// and `RateLimit` fields. A 429 the handler itself gave (an address over its share of password hashing) is
/// told to retry after a second.
pub async fn limit(State(limit): State<ClientRateLimit>, request: Request, next: Next) -> Response {
    let Some(limiter) = &limit.limiter else {
        let mut response = next.run(request).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .entry("retry-after")
                .or_insert(HeaderValue::from_static("1"));
        }
        return response;
    };
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, &limit.trusted_proxies).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let request = Request::from_parts(parts, body);
    let seconds_per_cell = 60.0 / f64::from(limit.per_minute);
    let (mut response, remaining, reset) = match limiter.check_key(&ip) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let used = limit.per_minute.saturating_sub(remaining);
            let reset = (f64::from(used) * seconds_per_cell).ceil() as u64;
            (next.run(request).await, remaining, reset)
        }
        Err(not_until) => {
            limit.rejected.fetch_add(1, Ordering::Relaxed);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = ApiError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "Too many requests from this address under the rate-limit policy \"{}\": at most {} a minute.",
                    limit.name, limit.per_minute
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
    let refused = response.status() == StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    if refused {
        headers
            .entry("retry-after")
            .or_insert(HeaderValue::from_static("1"));
    }
    if !headers.contains_key("ratelimit") {
        headers.insert(
            "ratelimit-policy",
            header(format!("\"{}\";q={};w=60", limit.name, limit.per_minute)),
        );
        headers.insert(
            "ratelimit",
            header(format!("\"{}\";r={remaining};t={reset}", limit.name)),
        );
    }
    response
}
