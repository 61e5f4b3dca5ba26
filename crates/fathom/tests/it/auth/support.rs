//! Helpers shared by the auth tests: a server with OWASP-minimum hashing, accounts, mailed
//! tokens, bearer calls and body comparisons.

use fathom::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_with_status, spawn_app_with};

/// The auth tests need no particular collections.
pub const SCHEMA: &str = r#"
[collections.notes]
fields.body = { type = "text", required = true }
"#;

/// A password every policy accepts.
pub const PASSWORD: &str = "correct horse battery staple 42";
/// Another one, for password changes and resets.
pub const NEW_PASSWORD: &str = "a long and unusual passphrase 2026";
/// A wrong password (also policy-compliant, so only the comparison fails).
pub const WRONG_PASSWORD: &str = "definitely not the right one";

/// The `WWW-Authenticate` challenge every 401 must carry.
pub const CHALLENGE: &str = "Bearer realm=\"fathom\"";

/// Starts a server with the OWASP-minimum Argon2id cost (the floor the configuration accepts),
/// rate limits and hashing shares off so they do not interfere; `adjust` may change anything
/// after that (the tests of those defences switch them back on).
pub async fn spawn_auth_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(SCHEMA, |c| {
        c.auth.argon2_memory_kib = 19_456;
        c.auth.argon2_iterations = 2;
        c.auth.rate_limit_per_minute = 0;
        c.auth.rate_limits.login = 0;
        c.auth.rate_limits.register = 0;
        c.auth.rate_limits.verify = 0;
        c.auth.rate_limits.refresh = 0;
        c.auth.rate_limits.password_reset = 0;
        c.auth.hash_queue_per_address = 0;
        c.auth.hash_queue_limit = 0;
        c.rate_limits.anonymous.auth = Some("off".into());
        c.rate_limits.default.auth = Some("off".into());
        adjust(c);
    })
    .await
    .without_credentials()
}

/// `POST /api/v1/auth{path}` with a JSON body, optionally with `X-Forwarded-For`.
pub async fn post_auth(
    app: &TestApp,
    path: &str,
    body: &Value,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/auth{path}")))
        .json(body);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.expect("request sent")
}

/// A request to `/api/v1/auth{path}` with `Authorization: Bearer {token}`.
pub fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(&format!("/api/v1/auth{path}")))
        .header("authorization", format!("Bearer {token}"))
}

/// Registers `email`, asserting the uniform 202.
pub async fn register(app: &TestApp, email: &str, password: &str) -> Value {
    let response = post_auth(
        app,
        "/register",
        &json!({"email": email, "password": password}),
        None,
    )
    .await;
    json_with_status(response, 202).await
}

/// Waits (up to 10 s) until the development mailbox holds at least `count` messages to
/// `email`, and returns them all, oldest first. Account mail is written after the answer, so a
/// test that has its 202 may still have to wait a moment for the message.
pub async fn await_mails(app: &TestApp, email: &str, count: usize) -> Vec<fathom_api::Mail> {
    for _ in 0..200 {
        let mails = app.auth.mailbox.to(email);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mails = app.auth.mailbox.to(email);
    panic!(
        "expected {count} mails to {email}, found {}: {mails:?}",
        mails.len()
    );
}

/// The token in the link of `body` (`…#token=TOKEN`).
pub fn token_in(body: &str) -> String {
    body.split_whitespace()
        .find_map(|word| {
            word.split_once("#token=")
                .map(|(_, token)| token.to_owned())
        })
        .unwrap_or_else(|| panic!("no `#token=` link in the mail"))
}

/// The token in the newest mail to `email` whose subject starts with `subject`, waiting for it
/// to arrive.
pub async fn mailed_token(app: &TestApp, email: &str, subject: &str) -> String {
    for _ in 0..200 {
        let mails = app.auth.mailbox.to(email);
        if let Some(mail) = mails.iter().rev().find(|m| m.subject.starts_with(subject)) {
            return token_in(&mail.body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mails = app.auth.mailbox.to(email);
    panic!("no mail `{subject}…` to {email}; mailbox: {mails:?}");
}

/// `POST /login`, optionally from a forwarded address.
pub async fn login_response(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    post_auth(
        app,
        "/login",
        &json!({"email": email, "password": password}),
        forwarded_for,
    )
    .await
}

/// Logs in, asserting a 200, and returns `data` (the token pair, session and user).
pub async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let body = json_with_status(login_response(app, email, password, None).await, 200).await;
    let data = body["data"].clone();
    assert_eq!(data["token_type"], "Bearer", "{data}");
    for key in ["access_token", "refresh_token", "session_id"] {
        assert!(
            data[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} missing: {data}"
        );
    }
    data
}

/// `POST /refresh` with `token`.
pub async fn refresh_response(app: &TestApp, token: &str) -> reqwest::Response {
    post_auth(app, "/refresh", &json!({"refresh_token": token}), None).await
}

/// Refreshes, asserting a 200, and returns `data`.
pub async fn refresh(app: &TestApp, token: &str) -> Value {
    json_with_status(refresh_response(app, token).await, 200).await["data"].clone()
}

/// Asserts that `token` no longer refreshes: 401 `unauthorized` with the challenge.
pub async fn assert_refresh_refused(app: &TestApp, token: &str, context: &str) {
    let response = refresh_response(app, token).await;
    assert_eq!(
        response.status(),
        401,
        "{context}: the refresh token still works"
    );
    assert_unauthorized(response, context).await;
}

/// `GET /me` with `token`, asserting a 200; returns `data`.
pub async fn me(app: &TestApp, token: &str) -> Value {
    let response = bearer(app, Method::GET, "/me", token)
        .send()
        .await
        .expect("request sent");
    json_with_status(response, 200).await["data"].clone()
}

/// A response header as text.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Asserts a 401 `unauthorized` problem carrying `WWW-Authenticate: Bearer realm="fathom"`.
pub async fn assert_unauthorized(response: reqwest::Response, context: &str) -> Value {
    assert_challenge(&response, context);
    assert_problem(response, 401, "unauthorized").await
}

/// Asserts the `WWW-Authenticate` challenge on a response.
pub fn assert_challenge(response: &reqwest::Response, context: &str) {
    assert_eq!(
        header(response, "www-authenticate").as_deref(),
        Some(CHALLENGE),
        "{context}: a {} must carry `WWW-Authenticate: {CHALLENGE}`",
        response.status()
    );
}

/// The body with every `requestId` removed (the one part that differs between two answers).
pub fn without_request_id(mut body: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("requestId");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut body);
    body
}

/// Status, content type and body (JSON, or the raw text when it is not JSON) of a response.
pub async fn status_type_body(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type");
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

/// The p-th percentile (0..=100) of `samples` by nearest rank; `samples` must not be empty.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}
