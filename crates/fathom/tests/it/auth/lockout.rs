//! Account lockout: failures count per account across client addresses (each address stays far
//! under its rate limit, so the limit is not what stops the attacker), a locked account answers
//! the right password exactly like a wrong one, and the password-reset path still recovers it.

use serde_json::json;

use super::support::{
    NEW_PASSWORD, PASSWORD, WRONG_PASSWORD, header, login_response, mailed_token, post_auth,
    register, spawn_auth_app, without_request_id,
};
use crate::helpers::{assert_problem, json_with_status};

#[tokio::test]
async fn failures_from_many_addresses_lock_the_account_and_a_reset_recovers_it() {
    let app = spawn_auth_app(|c| {
        c.auth.lockout_threshold = 3;
        c.auth.lockout_minutes = 15;
        c.auth.trusted_proxies = vec!["127.0.0.1".into()];
        c.auth.rate_limit_per_minute = 20;
    })
    .await;
    let email = "locked@example.com";
    register(&app, email, PASSWORD).await;
    let address = |n: u8| format!("198.51.100.{n}");

    let mut wrong_bodies = Vec::new();
    for n in 1..=3 {
        let response = login_response(&app, email, WRONG_PASSWORD, Some(&address(n))).await;
        assert_eq!(
            header(&response, "ratelimit-remaining").as_deref(),
            Some("19"),
            "attempt {n} comes from a fresh address with its whole budget left"
        );
        let body = assert_problem(response, 401, "invalid_credentials").await;
        wrong_bodies.push(without_request_id(body));
    }
    assert!(wrong_bodies.windows(2).all(|w| w[0] == w[1]));

    let user = app.store.user_by_email(email).await.unwrap().unwrap();
    assert_eq!(user.failed_logins, 3, "failures are counted per account");
    assert!(user.locked_until.is_some(), "the third failure locks");

    // The right password, from a fourth, fresh address: the same 401 as a wrong one.
    let response = login_response(&app, email, PASSWORD, Some(&address(4))).await;
    assert_eq!(
        header(&response, "ratelimit-remaining").as_deref(),
        Some("19")
    );
    let locked = assert_problem(response, 401, "invalid_credentials").await;
    assert_eq!(
        without_request_id(locked),
        wrong_bodies[0],
        "a locked account must not be distinguishable from a wrong password"
    );

    let audit = app.store.audit_log(50).await.unwrap();
    let lockouts = audit.iter().filter(|r| r.entry.action == "lockout").count();
    assert_eq!(lockouts, 1, "the lock is audited once: {audit:#?}");
    assert!(
        audit.iter().any(|r| r.entry.action == "login"
            && r.entry.outcome == "failure"
            && r.entry.detail.as_deref() == Some("locked")),
        "the refused right password is audited as `locked`"
    );

    // Recovery: request a reset, follow the mail, confirm, sign in with the new password.
    let requested = post_auth(
        &app,
        "/password-reset",
        &json!({"email": email}),
        Some(&address(5)),
    )
    .await;
    json_with_status(requested, 202).await;
    let token = mailed_token(&app, email, "Reset your password");
    let confirmed = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        Some(&address(6)),
    )
    .await;
    assert_eq!(confirmed.status(), 204);
    let user = app.store.user_by_email(email).await.unwrap().unwrap();
    assert_eq!(user.failed_logins, 0, "the reset clears the failure count");
    assert_eq!(user.locked_until, None, "the reset lifts the lock");

    let response = login_response(&app, email, NEW_PASSWORD, Some(&address(7))).await;
    let body = json_with_status(response, 200).await;
    assert_eq!(body["data"]["user"]["email"], email);
}

/// After three free failures, each failed login for an address waits longer, and an unknown
/// address waits exactly as a known one does (the delay must not reveal which accounts exist).
#[tokio::test]
async fn failed_logins_slow_down_alike_for_known_and_unknown_addresses() {
    let app = spawn_auth_app(|c| c.auth.lockout_threshold = 100).await;
    register(&app, "known@example.com", PASSWORD).await;
    for email in ["known@example.com", "unknown@example.com"] {
        let mut elapsed = Vec::new();
        for _ in 0..4 {
            let started = std::time::Instant::now();
            let response = app
                .post_json(
                    "/api/v1/auth/login",
                    &serde_json::json!({"email": email, "password": "wrong password here"}),
                )
                .await;
            assert_eq!(response.status().as_u16(), 401);
            elapsed.push(started.elapsed());
        }
        assert!(
            elapsed[3] >= std::time::Duration::from_millis(250),
            "{email}: the fourth failure waits: {elapsed:?}"
        );
        assert!(
            elapsed[0] < std::time::Duration::from_millis(250),
            "{email}: the first is not delayed: {elapsed:?}"
        );
    }
    app.stop().await;
}
