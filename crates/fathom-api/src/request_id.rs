//! The request id: taken from a well-formed incoming `X-Request-Id` or generated, echoed on the
//! response, attached to the request's log span, and readable anywhere in the request's task (so
//! that every envelope and problem body can carry it).

use axum::http::HeaderValue;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id, or an empty string outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `future` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}

/// Accepts a client's id only if it is short and plain, so it is safe to log and echo.
pub fn accept_or_generate(incoming: Option<&HeaderValue>) -> String {
    incoming
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map_or_else(|| uuid::Uuid::now_v7().simple().to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_replaced() {
        let ok = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(accept_or_generate(Some(&ok)), "abc-123_x.y");
        let bad = HeaderValue::from_static("has spaces");
        assert_ne!(accept_or_generate(Some(&bad)), "has spaces");
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(accept_or_generate(Some(&long)).len(), 32);
        assert_eq!(accept_or_generate(None).len(), 32);
    }
}
