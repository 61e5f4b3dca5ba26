//! The middleware that counts every `/api/v1` request against its caller's quota for its route
//! class, and answers 429 past it. It identifies the caller once (the records extractor reuses
//! the [`Principal`] it leaves in the request's extensions); a credential that does not
//! authenticate is counted as anonymous, by address, and refused by the handler as before.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::headers::{describe, refusal};
use super::{ApiRateLimits, RouteClass};
use crate::AppState;
use crate::auth::bearer_token;
use crate::client_ip::client_ip;
use crate::records::access::Principal;

/// Who a request is counted as: the policy's name, whose budget (for the 429's text) and the
/// bucket's key.
fn policy_of(
    limits: &ApiRateLimits,
    principal: Option<&Principal>,
    ip: IpAddr,
    class: RouteClass,
) -> (String, &'static str, String, Option<fathom_limits::Quota>) {
    let class_name = class.as_str();
    match principal {
        Some(Principal::User(caller) | Principal::Admin(caller)) => {
            let (name, quota) = limits.for_user(&caller.claims.roles, class);
            (name, "this user", caller.user_id.to_string(), quota)
        }
        Some(Principal::Service(key)) => (
            format!("api_keys.{class_name}"),
            "this API key",
            key.id.to_string(),
            limits.api_keys.get(class),
        ),
        Some(Principal::Anonymous | Principal::System) | None => (
            format!("anonymous.{class_name}"),
            "this address",
            ip.to_string(),
            limits.anonymous.get(class),
        ),
    }
}

pub(crate) async fn enforce(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.auth.settings.api_limits;
    if !limits.enabled {
        return next.run(request).await;
    }
    let Some(rest) = request.uri().path().strip_prefix("/api/v1/") else {
        return next.run(request).await;
    };
    let class = RouteClass::of(rest, request.method());
    let (mut parts, body) = request.into_parts();
    let principal = match bearer_token(&parts) {
        Ok(None) => Some(Principal::Anonymous),
        Ok(token @ Some(_)) => crate::records::access::authenticate(&state, token).await.ok(),
        Err(_) => None,
    };
    let ip = client_ip(&parts, &state.auth.settings.trusted_proxies)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let (policy, whose, subject, quota) = policy_of(limits, principal.as_ref(), ip, class);
    if let Some(principal) = principal {
        parts.extensions.insert(principal);
    }
    let request = Request::from_parts(parts, body);
    let Some(quota) = quota else {
        return next.run(request).await;
    };
    let outcome = state.auth.limiter().check(&policy, &subject, &quota).await;
    if !outcome.allowed {
        state.auth.api_rejections.count(class);
        return refusal(&policy, &quota, whose, &outcome);
    }
    let mut response = next.run(request).await;
    describe(response.headers_mut(), &policy, &quota, &outcome);
    response
}
