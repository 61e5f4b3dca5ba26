//! The client's IP address: the TCP peer, or, when the peer is a configured trusted proxy, the
//! right-most address in `X-Forwarded-For` that is not itself a trusted proxy. A client can put
//! anything in that header, so it is never believed from anyone else.
//!
//! [`remember`] resolves it once per auth request and keeps it for the request's task, where the
//! audit log and the guessing defence read it with [`current`].

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

tokio::task_local! {
    static CLIENT_IP: Option<IpAddr>;
}

/// The current request's client address (`None` outside a request, or without a peer).
pub fn current() -> Option<IpAddr> {
    CLIENT_IP.try_with(|ip| *ip).ok().flatten()
}

/// Runs `future` with `ip` as the current client address (for work that outlives a request).
pub async fn scope<F: Future>(ip: Option<IpAddr>, future: F) -> F::Output {
    CLIENT_IP.scope(ip, future).await
}

/// The middleware: resolves the client address and keeps it for the rest of the request.
pub async fn remember(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, &state.auth.settings.trusted_proxies);
    scope(ip, next.run(Request::from_parts(parts, body))).await
}

/// Resolves the client address of a request.
pub fn client_ip(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .unwrap_or(peer),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, forwarded: Option<&str>) -> Parts {
        let mut request = Request::builder();
        if let Some(value) = forwarded {
            request = request.header("x-forwarded-for", value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts.extensions.insert(ConnectInfo(
            format!("{peer}:5000").parse::<SocketAddr>().unwrap(),
        ));
        parts
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let spoofed = parts("203.0.113.9", Some("1.2.3.4"));
        assert_eq!(
            client_ip(&spoofed, &[proxy]),
            Some("203.0.113.9".parse().unwrap())
        );
        let proxied = parts("10.0.0.1", Some("1.2.3.4, 198.51.100.7"));
        assert_eq!(
            client_ip(&proxied, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        let chained = parts("10.0.0.1", Some("198.51.100.7, 10.0.0.1"));
        assert_eq!(
            client_ip(&chained, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        let garbage = parts("10.0.0.1", Some("not-an-ip"));
        assert_eq!(client_ip(&garbage, &[proxy]), Some(proxy));
    }
}
