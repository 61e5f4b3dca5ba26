//! The guessing defence: failures count per account and client address, so an attacker on many
//! addresses cannot lock the owner out (the owner's known address signs in at once, a new one
//! only waits); an address that fails too often is refused for that account and answered
//! exactly like a wrong password; a wrong current password on `POST /password` is a guess too;
//! the password reset recovers everything. Audit entries (of sign-ins, registrations and
//! administrative changes) carry the client address.

use reqwest::Method;
use serde_json::json;

use super::support::{
    NEW_PASSWORD, PASSWORD, WRONG_PASSWORD, await_mails, bearer, login_response, mailed_token,
    post_auth, register, spawn_auth_app, without_request_id,
};
use crate::helpers::{TestApp, assert_problem, json_with_status};

const OWNER_ADDRESS: &str = "203.0.113.7";

fn attacker(n: u8) -> String {
    format!("198.51.100.{n}")
}

/// A server behind a trusted proxy (so tests choose the client address) that refuses an address
/// for an account after three failures.
async fn app() -> TestApp {
    spawn_auth_app(|c| {
        c.auth.lockout_threshold = 3;
        c.auth.lockout_minutes = 15;
        c.auth.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
}

#[tokio::test]
async fn an_attacker_on_many_addresses_cannot_lock_the_owner_out() {
    let app = app().await;
    let email = "victim@example.com";
    register(&app, email, PASSWORD).await;
    let signed_in = login_response(&app, email, PASSWORD, Some(OWNER_ADDRESS)).await;
    json_with_status(signed_in, 200).await;

    // One attacking address reaches the threshold: it is refused for this account, even with
    // the right password, and the refusal looks exactly like a wrong password.
    let mut wrong_bodies = Vec::new();
    for _ in 0..3 {
        let response = login_response(&app, email, WRONG_PASSWORD, Some(&attacker(1))).await;
        wrong_bodies.push(without_request_id(
            assert_problem(response, 401, "invalid_credentials").await,
        ));
    }
    let refused = login_response(&app, email, PASSWORD, Some(&attacker(1))).await;
    let refused = without_request_id(assert_problem(refused, 401, "invalid_credentials").await);
    assert_eq!(
        refused, wrong_bodies[0],
        "a refusal must look like a wrong password"
    );

    // More addresses keep failing (each is slowed down, not the owner).
    for n in 2..=3 {
        let response = login_response(&app, email, WRONG_PASSWORD, Some(&attacker(n))).await;
        assert_problem(response, 401, "invalid_credentials").await;
    }

    // The owner, from the address that signed in before, is unaffected.
    let owner = login_response(&app, email, PASSWORD, Some(OWNER_ADDRESS)).await;
    let body = json_with_status(owner, 200).await;
    assert_eq!(body["data"]["user"]["email"], email);
    // From an address never seen before the owner only waits; the account is not locked.
    let traveller = login_response(&app, email, PASSWORD, Some("192.0.2.44")).await;
    json_with_status(traveller, 200).await;

    let audit = app.store.audit_log(100).await.unwrap();
    let lockouts: Vec<_> = audit
        .iter()
        .filter(|r| r.entry.action == "lockout")
        .collect();
    assert_eq!(lockouts.len(), 1, "one address was refused: {audit:#?}");
    assert_eq!(lockouts[0].entry.ip.as_deref(), Some(attacker(1).as_str()));
    assert!(
        audit.iter().any(|r| r.entry.action == "login"
            && r.entry.outcome == "failure"
            && r.entry.ip.as_deref() == Some(attacker(1).as_str())
            && r.entry.detail.as_deref() == Some("address refused for this account")),
        "the refused right password is audited: {audit:#?}"
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_as_guesses_and_a_reset_recovers() {
    let app = app().await;
    let email = "changer@example.com";
    register(&app, email, PASSWORD).await;
    let signed_in = login_response(&app, email, PASSWORD, Some(OWNER_ADDRESS)).await;
    let token = json_with_status(signed_in, 200).await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A thief with the access token guesses the current password from elsewhere.
    let change = |current: &'static str| {
        bearer(&app, Method::POST, "/password", &token)
            .header("x-forwarded-for", attacker(9))
            .json(&json!({"current_password": current, "new_password": NEW_PASSWORD}))
            .send()
    };
    for _ in 0..3 {
        let response = change(WRONG_PASSWORD).await.unwrap();
        assert_problem(response, 401, "invalid_credentials").await;
    }
    let response = change(PASSWORD).await.unwrap();
    assert_problem(response, 401, "invalid_credentials").await;
    let login = login_response(&app, email, PASSWORD, Some(&attacker(9))).await;
    assert_problem(login, 401, "invalid_credentials").await;

    // The reset is the way out: it lifts every refusal for the account.
    let requested = post_auth(
        &app,
        "/password-reset",
        &json!({"email": email}),
        Some(&attacker(9)),
    )
    .await;
    json_with_status(requested, 202).await;
    let token = mailed_token(&app, email, "Reset your password").await;
    let confirmed = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        Some(&attacker(9)),
    )
    .await;
    assert_eq!(confirmed.status(), 204);
    let login = login_response(&app, email, NEW_PASSWORD, Some(&attacker(9))).await;
    json_with_status(login, 200).await;
}

#[tokio::test]
async fn the_audit_log_records_the_client_address() {
    let app = app().await;
    let email = "audited@example.com";
    register(&app, email, PASSWORD).await;
    let ok = login_response(&app, email, PASSWORD, Some("198.51.100.20")).await;
    json_with_status(ok, 200).await;
    let failed = login_response(&app, email, WRONG_PASSWORD, Some("2001:db8::20")).await;
    assert_problem(failed, 401, "invalid_credentials").await;
    // Without a trusted proxy in between, the TCP peer is the client.
    let direct = login_response(&app, "nobody@example.com", WRONG_PASSWORD, None).await;
    assert_problem(direct, 401, "invalid_credentials").await;

    await_mails(&app, email, 1).await;
    // Administrative changes carry the address too.
    let user = app.store.user_by_email(email).await.unwrap().unwrap();
    let updated = app
        .client
        .patch(app.url(&format!("/api/v1/admin/users/{}", user.id)))
        .header("authorization", format!("Bearer {}", app.admin_token))
        .header("x-forwarded-for", "198.51.100.30")
        .json(&json!({"verified": true}))
        .send()
        .await
        .unwrap();
    json_with_status(updated, 200).await;
    let audit = app.store.audit_log(50).await.unwrap();
    let ip_of = |outcome: &str, detail: Option<&str>| {
        audit
            .iter()
            .find(|r| {
                r.entry.action == "login"
                    && r.entry.outcome == outcome
                    && r.entry.detail.as_deref() == detail
            })
            .and_then(|r| r.entry.ip.clone())
    };
    assert_eq!(ip_of("success", None).as_deref(), Some("198.51.100.20"));
    assert_eq!(
        ip_of("failure", Some("wrong password")).as_deref(),
        Some("2001:db8::20")
    );
    assert_eq!(
        ip_of("failure", Some("unknown account")).as_deref(),
        Some("127.0.0.1")
    );
    let admin = audit.iter().find(|r| r.entry.action == "admin_user_update");
    assert_eq!(
        admin.and_then(|r| r.entry.ip.as_deref()),
        Some("198.51.100.30")
    );
    let registered = audit.iter().find(|r| r.entry.action == "register");
    assert!(
        registered.is_some_and(|r| r.entry.ip.as_deref() == Some("127.0.0.1")),
        "mail work after the answer keeps the address: {audit:#?}"
    );
}
