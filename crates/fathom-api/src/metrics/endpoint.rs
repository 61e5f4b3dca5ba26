//! `GET /metrics`: served either on a listener of its own (`metrics.listen`, [`router`]: no
//! credential, so bind it to an address only the scraper reaches), or on the main listener
//! behind a bearer token read from a file (`metrics.token_file`, [`route`]), compared in constant
//! time. With neither, there is no metrics endpoint at all.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fathom_core::ErrorCode;
use subtle::ConstantTimeEq;

use super::Metrics;
use crate::error::ApiError;

/// The bearer token `/metrics` demands on the main listener. Never printed.
#[derive(Clone)]
pub struct MetricsToken(Arc<str>);

impl MetricsToken {
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken([redacted])")
    }
}

/// The metrics listener's whole application: `/metrics` and nothing else.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(exposition))
        .with_state(metrics)
}

/// `/metrics` for the main router, behind `token`.
pub(crate) fn route<S>(metrics: Arc<Metrics>, token: MetricsToken) -> Router<S> {
    Router::new()
        .route("/metrics", get(guarded))
        .with_state((metrics, token))
}

async fn exposition(State(metrics): State<Arc<Metrics>>) -> Response {
    render(&metrics)
}

async fn guarded(
    State((metrics, token)): State<(Arc<Metrics>, MetricsToken)>,
    headers: HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| token.matches(p.trim())) {
        let mut response = ApiError::new(
            ErrorCode::Unauthorized,
            "The metrics endpoint needs the metrics bearer token.",
            "Send `Authorization: Bearer <token>` with the contents of the file named by `metrics.token_file`.",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    render(&metrics)
}

fn render(metrics: &Metrics) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_only_itself_and_never_prints() {
        let token = MetricsToken::new("s3cret-token");
        assert!(token.matches("s3cret-token"));
        assert!(!token.matches("s3cret-tokem"));
        assert!(!token.matches("s3cret"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
