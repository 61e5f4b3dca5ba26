//! Reading the rate-limit fields of an answer.

/// A response header as text.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `(policy, q, w)` of the `RateLimit-Policy` field.
pub fn policy(response: &reqwest::Response) -> Option<(String, u32, u64)> {
    let field = header(response, "ratelimit-policy")?;
    let mut items = field.split(';');
    let name = items.next()?.trim_matches('"').to_owned();
    let mut q = None;
    let mut w = None;
    for item in items {
        match item.split_once('=') {
            Some(("q", v)) => q = v.parse().ok(),
            Some(("w", v)) => w = v.parse().ok(),
            _ => {}
        }
    }
    Some((name, q?, w?))
}

/// `(policy, r, t)` of the `RateLimit` field.
pub fn remaining(response: &reqwest::Response) -> Option<(String, u32, u64)> {
    let field = header(response, "ratelimit")?;
    let mut items = field.split(';');
    let name = items.next()?.trim_matches('"').to_owned();
    let mut r = None;
    let mut t = None;
    for item in items {
        match item.split_once('=') {
            Some(("r", v)) => r = v.parse().ok(),
            Some(("t", v)) => t = v.parse().ok(),
            _ => {}
        }
    }
    Some((name, r?, t?))
}
