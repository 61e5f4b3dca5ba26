//! Per-address rate limits on the auth routes, one budget per family of routes
//! ([`AuthRateLimits`]; a limit of 0 is switched off), counted by the shared
//! [`fathom_limits::Limiter`] (GCRA; in Redis for the whole cluster when `redis.url` is set).
//! Their answers carry the `RateLimit-Policy` and `RateLimit` fields and their refusals are 429
//! with `Retry-After`, rendered by `crate::limits::headers` like the data API's limits.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use fathom_limits::{Limiter, Quota};

use crate::client_ip::client_ip;
use crate::limits::headers::{describe, refusal};

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

/// A limit of `per_minute` requests per client address, refilled evenly over the minute, or no
/// limit at all when `per_minute` is 0.
#[derive(Clone)]
pub struct ClientRateLimit {
    /// The policy's name in the headers, the 429 and the metrics (`auth_login` ...).
    name: &'static str,
    quota: Option<Quota>,
    limiter: Limiter,
    trusted_proxies: Arc<Vec<IpAddr>>,
    /// Requests this limit has refused, for `/metrics`.
    rejected: Arc<AtomicU64>,
}

impl ClientRateLimit {
    pub fn per_minute(
        name: &'static str,
        per_minute: u32,
        trusted_proxies: Vec<IpAddr>,
        limiter: &Limiter,
    ) -> Self {
        Self {
            name,
            quota: (per_minute > 0).then(|| Quota::per_minute(per_minute)),
            limiter: limiter.clone(),
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
    pub fn new(limits: AuthRateLimits, trusted_proxies: &[IpAddr], limiter: &Limiter) -> Self {
        let limit = |name, per_minute| {
            ClientRateLimit::per_minute(name, per_minute, trusted_proxies.to_vec(), limiter)
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

/// The middleware: counts the request against its client, answers 429 when over the limit
/// (fields rendered by `crate::limits::headers`). A 429 the handler itself gave (an address over
/// its share of password hashing) is told to retry after a second.
pub async fn limit(State(limit): State<ClientRateLimit>, request: Request, next: Next) -> Response {
    let Some(quota) = &limit.quota else {
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
    let outcome = limit
        .limiter
        .check(limit.name, &ip.to_string(), quota)
        .await;
    if !outcome.allowed {
        limit.rejected.fetch_add(1, Ordering::Relaxed);
        return refusal(limit.name, quota, "this address", &outcome);
    }
    let mut response = next.run(request).await;
    let refused = response.status() == StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    if refused {
        headers
            .entry("retry-after")
            .or_insert(HeaderValue::from_static("1"));
    }
    describe(headers, limit.name, quota, &outcome);
    response
}
