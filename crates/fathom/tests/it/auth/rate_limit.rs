//! Per-address rate limits on the auth endpoints, one budget per family of routes (each with its
//! own default, 0 switching one off), and whom `X-Forwarded-For` is believed from: a client
//! cannot escape its limit by inventing addresses, while a trusted proxy's clients are counted
//! one by one (by the right-most untrusted address, which the proxy itself appended).

use serde_json::json;

use super::support::{SCHEMA, WRONG_PASSWORD, header, login_response, post_auth, spawn_auth_app};
use crate::helpers::{assert_problem, spawn_app_with};

const LIMIT: u32 = 5;

/// The `q` of the `RateLimit-Policy` field of `response`, checking the policy's name.
fn quota(response: &reqwest::Response, policy: &str) -> Option<String> {
    let field = header(response, "ratelimit-policy")?;
    let rest = field
        .strip_prefix(&format!("\"{policy}\";q="))
        .unwrap_or_else(|| panic!("the policy {policy} in {field}"));
    let (q, window) = rest.split_once(';').expect("q then w");
    assert_eq!(window, "w=60", "{field}");
    Some(q.to_owned())
}

/// The draft-ietf-httpapi-ratelimit-headers fields (not the older `RateLimit-Limit` triple).
fn assert_limit_headers(response: &reqwest::Response, remaining: u32, context: &str) {
    let policy = if context.starts_with("refresh") {
        "auth_refresh"
    } else {
        "auth_login"
    };
    assert_eq!(
        quota(response, policy),
        Some(LIMIT.to_string()),
        "{context}"
    );
    assert_eq!(header(response, "ratelimit-limit"), None, "{context}");
    let field = header(response, "ratelimit").expect("a RateLimit field");
    let rest = field
        .strip_prefix(&format!("\"{policy}\";r={remaining};t="))
        .unwrap_or_else(|| panic!("{context}: remaining {remaining} in {field}"));
    let reset: u64 = rest
        .parse()
        .unwrap_or_else(|_| panic!("{context}: t must be whole seconds: {field}"));
    assert!(reset <= 60, "{context}: {field}");
}

#[tokio::test]
async fn spoofed_forwarded_for_does_not_escape_the_limit() {
    let app = spawn_auth_app(|c| {
        c.auth.rate_limits.login = LIMIT;
        c.auth.trusted_proxies = Vec::new();
    })
    .await;
    for n in 1..=LIMIT {
        let spoofed = format!("203.0.113.{n}");
        let response =
            login_response(&app, "nobody@example.com", WRONG_PASSWORD, Some(&spoofed)).await;
        assert_limit_headers(&response, LIMIT - n, &format!("login {n}"));
        assert_problem(response, 401, "invalid_credentials").await;
    }
    let response = login_response(
        &app,
        "nobody@example.com",
        WRONG_PASSWORD,
        Some("203.0.113.99"),
    )
    .await;
    assert_limit_headers(&response, 0, "login over the limit");
    let retry_after: u64 = header(&response, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a 429 carries Retry-After in whole seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_problem(response, 429, "too_many_requests").await;

    // The handler never ran for the refused request: five failures are audited, not six.
    let failures = app
        .store
        .audit_log(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == "login")
        .count();
    assert_eq!(failures, LIMIT as usize);

    // The budget belongs to the address and the family of routes: refreshing has its own.
    let response = post_auth(&app, "/refresh", &json!({"refresh_token": "x"}), None).await;
    assert_eq!(response.status(), 401);
    // Routes outside the limit are unaffected.
    assert_eq!(app.get("/api/v1/auth/jwks.json").await.status(), 200);
}

#[tokio::test]
async fn a_trusted_proxy_has_its_clients_counted_separately() {
    let app = spawn_auth_app(|c| {
        c.auth.rate_limits.login = LIMIT;
        c.auth.rate_limits.refresh = LIMIT;
        c.auth.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    for n in 1..=LIMIT + 1 {
        let client = format!("198.51.100.{n}");
        let response =
            login_response(&app, "nobody@example.com", WRONG_PASSWORD, Some(&client)).await;
        assert_limit_headers(&response, LIMIT - 1, &format!("client {client}"));
        assert_problem(response, 401, "invalid_credentials").await;
    }

    // Behind the proxy, a client that prepends invented addresses is still counted by the
    // address the proxy appended (the right-most untrusted one).
    for n in 1..=LIMIT {
        let forwarded = format!("10.77.0.{n}, 192.0.2.50");
        let response = post_auth(
            &app,
            "/refresh",
            &json!({"refresh_token": "x"}),
            Some(&forwarded),
        )
        .await;
        assert_limit_headers(&response, LIMIT - n, &format!("refresh {n}"));
        assert_eq!(response.status(), 401);
    }
    let response = post_auth(
        &app,
        "/refresh",
        &json!({"refresh_token": "x"}),
        Some("10.77.0.99, 192.0.2.50"),
    )
    .await;
    assert!(header(&response, "retry-after").is_some());
    let problem = assert_problem(response, 429, "too_many_requests").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("\"auth_refresh\""),
        "the 429 names the violated policy: {problem}"
    );
}

/// With the default configuration each family of auth routes has its own budget per address:
/// using up the sign-in budget leaves refreshing, registering, verifying and resetting open.
#[tokio::test]
async fn each_route_family_has_its_own_budget_by_default() {
    let app = spawn_app_with(SCHEMA, |_| {}).await;
    // An empty body is refused by validation, after the limit has counted it.
    for _ in 0..20 {
        let response = post_auth(&app, "/login", &json!({}), None).await;
        assert_eq!(quota(&response, "auth_login").as_deref(), Some("20"));
        assert_problem(response, 400, "validation_failed").await;
    }
    let response = post_auth(&app, "/login", &json!({}), None).await;
    assert_problem(response, 429, "too_many_requests").await;
    for (path, policy, limit) in [
        ("/refresh", "auth_refresh", "60"),
        ("/register", "auth_register", "10"),
        ("/verify", "auth_verify", "20"),
        ("/password-reset", "auth_password_reset", "10"),
        ("/password-reset/confirm", "auth_password_reset", "10"),
    ] {
        let response = post_auth(&app, path, &json!({}), None).await;
        assert_eq!(quota(&response, policy).as_deref(), Some(limit), "{path}");
        assert_problem(response, 400, "validation_failed").await;
    }
    app.stop().await;
}

/// A limit of 0 switches it off (for load tests): no 429, no `RateLimit-Policy` or `RateLimit` fields.
#[tokio::test]
async fn a_limit_of_zero_switches_it_off() {
    let app = spawn_auth_app(|c| {
        c.auth.rate_limits.login = 0;
        c.auth.rate_limit_per_minute = 0;
    })
    .await;
    for _ in 0..40 {
        let response = post_auth(&app, "/login", &json!({}), None).await;
        assert_eq!(header(&response, "ratelimit-policy"), None);
        assert_eq!(header(&response, "ratelimit"), None);
        assert_problem(response, 400, "validation_failed").await;
    }
    app.stop().await;
}
