//! Mailed single-use tokens under concurrency: thirty simultaneous redemptions of one
//! verification or reset token succeed exactly once. Also: the reset flow end to end, and a
//! weak password does not burn a reset token.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Barrier;

use super::support::{
    NEW_PASSWORD, PASSWORD, assert_refresh_refused, login, login_response, mailed_token, post_auth,
    register, spawn_auth_app,
};
use crate::helpers::{TestApp, assert_problem, json_with_status};

const CALLERS: usize = 30;

/// Sends `body` to `path` from `CALLERS` tasks at once; returns the statuses and bodies.
async fn race(app: &Arc<TestApp>, path: &'static str, body: Value) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(CALLERS));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (app, barrier, body) = (Arc::clone(app), Arc::clone(&barrier), body.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let response = post_auth(&app, path, &body, None).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.unwrap());
    }
    outcomes
}

fn assert_exactly_one_success(outcomes: &[(u16, Value)], what: &str) {
    let statuses: Vec<u16> = outcomes.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{what}: exactly one 204 expected, got {statuses:?}"
    );
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != 204) {
        assert_eq!(*status, 400, "{what}: {body}");
        assert_eq!(body["code"], "validation_failed", "{what}: {body}");
        assert_eq!(body["errors"][0]["code"], "invalid_token", "{what}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verification_token_is_redeemed_once_under_concurrency() {
    let app = Arc::new(spawn_auth_app(|_| {}).await);
    let email = "verify-race@example.com";
    register(&app, email, PASSWORD).await;
    let token = mailed_token(&app, email, "Verify your email").await;
    let outcomes = race(&app, "/verify", json!({"token": token})).await;
    assert_exactly_one_success(&outcomes, "POST /verify");
    let user = app.store.user_by_email(email).await.unwrap().unwrap();
    assert!(user.verified);
    let verified = app
        .store
        .audit_log(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == "email_verified")
        .count();
    assert_eq!(verified, 1, "one verification is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_token_is_redeemed_once_under_concurrency() {
    let app = Arc::new(spawn_auth_app(|_| {}).await);
    let email = "reset-race@example.com";
    register(&app, email, PASSWORD).await;
    let old_session = login(&app, email, PASSWORD).await;

    let requested = post_auth(&app, "/password-reset", &json!({"email": email}), None).await;
    json_with_status(requested, 202).await;
    let token = mailed_token(&app, email, "Reset your password").await;

    // A weak new password is refused before the token is spent.
    let weak = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": "password1234"}),
        None,
    )
    .await;
    let problem = assert_problem(weak, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "new_password", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "too_common", "{problem}");

    let body = json!({"token": token, "new_password": NEW_PASSWORD});
    let outcomes = race(&app, "/password-reset/confirm", body).await;
    assert_exactly_one_success(&outcomes, "POST /password-reset/confirm");

    // The new password works, the old one does not, and the reset ended the old session.
    login(&app, email, NEW_PASSWORD).await;
    let old = login_response(&app, email, PASSWORD, None).await;
    assert_problem(old, 401, "invalid_credentials").await;
    assert_refresh_refused(
        &app,
        old_session["refresh_token"].as_str().unwrap(),
        "a session from before the reset",
    )
    .await;
}

#[tokio::test]
async fn a_reset_cannot_set_the_email_address_as_password() {
    // Registration and password change refuse `same_as_email`; the reset path must too, or the
    // policy is bypassed by "forgot password".
    let app = spawn_auth_app(|_| {}).await;
    let email = "policy.bypass.check@example.com";
    register(&app, email, PASSWORD).await;
    json_with_status(
        post_auth(&app, "/password-reset", &json!({"email": email}), None).await,
        202,
    )
    .await;
    let token = mailed_token(&app, email, "Reset your password").await;
    let response = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": email}),
        None,
    )
    .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (status.as_u16(), &body["errors"][0]["code"]),
        (400, &json!("same_as_email")),
        "a reset to the account's own email address was answered {status}: {body}"
    );
}

#[tokio::test]
async fn a_mailed_token_works_only_for_its_own_purpose() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "purpose@example.com";
    register(&app, email, PASSWORD).await;
    let verify_token = mailed_token(&app, email, "Verify your email").await;
    json_with_status(
        post_auth(&app, "/password-reset", &json!({"email": email}), None).await,
        202,
    )
    .await;
    let reset_token = mailed_token(&app, email, "Reset your password").await;

    // The verification token cannot reset the password, nor the reset token verify the address.
    let response = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": verify_token, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    let problem = assert_problem(response, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "invalid_token", "{problem}");
    let response = post_auth(&app, "/verify", &json!({"token": reset_token}), None).await;
    let problem = assert_problem(response, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "invalid_token", "{problem}");
    let user = app.store.user_by_email(email).await.unwrap().unwrap();
    assert!(!user.verified);

    // Neither was spent by the misuse: each still works for its own purpose.
    let response = post_auth(&app, "/verify", &json!({"token": verify_token}), None).await;
    assert_eq!(response.status(), 204);
    let response = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": reset_token, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
}
