//! Enrolment, confirmation, renewal of recovery codes and disabling.

use reqwest::Method;
use serde_json::json;

use super::super::support::{PASSWORD, login};
use super::support::{account, call, code_at, enable, enrol, status, wrong_code};
use crate::auth::support::spawn_auth_app;
use crate::helpers::{assert_problem, json_with_status};

#[tokio::test]
async fn enrolment_answers_a_uri_and_is_on_only_after_a_confirming_code() {
    let app = spawn_auth_app(|_| {}).await;
    let token = account(&app, "enrol@example.com").await;
    let before = status(&app, &token).await;
    assert_eq!(before["enabled"], false, "{before}");
    assert_eq!(before["pending"], false, "{before}");

    // A `code` that is there must be a code, even where none is needed.
    let malformed = call(
        &app,
        Method::POST,
        "/totp",
        &token,
        &json!({"code": 123456}),
    )
    .await;
    assert_problem(malformed, 400, "validation_failed").await;
    let (totp, data) = enrol(&app, &token).await;
    let uri = data["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Fathom:enrol%40example.com?"),
        "{uri}"
    );
    assert_eq!(totp.issuer(), Some("Fathom"));
    assert_eq!(totp.account_name(), "enrol@example.com");
    assert_eq!(data["secret"], totp.secret().to_base32());
    let pending = status(&app, &token).await;
    assert_eq!(pending["enabled"], false, "{pending}");
    assert_eq!(pending["pending"], true, "{pending}");
    // Not on yet: the password alone still signs in.
    login(&app, "enrol@example.com", PASSWORD).await;

    let missing = call(&app, Method::POST, "/totp/confirm", &token, &json!({})).await;
    assert_problem(missing, 400, "validation_failed").await;
    let wrong = call(
        &app,
        Method::POST,
        "/totp/confirm",
        &token,
        &json!({"code": wrong_code(&totp, 0)}),
    )
    .await;
    assert_problem(wrong, 401, "second_factor_invalid").await;
    assert_eq!(status(&app, &token).await["enabled"], false);

    let right = call(
        &app,
        Method::POST,
        "/totp/confirm",
        &token,
        &json!({"code": code_at(&totp, 0)}),
    )
    .await;
    let data = json_with_status(right, 200).await["data"].clone();
    let codes = data["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10, "{data}");
    let on = status(&app, &token).await;
    assert_eq!(on["enabled"], true, "{on}");
    assert_eq!(on["pending"], false, "{on}");
    assert_eq!(on["recovery_codes_left"], 10, "{on}");

    // The enrolment is spent: a second confirmation has nothing to confirm.
    let again = call(
        &app,
        Method::POST,
        "/totp/confirm",
        &token,
        &json!({"code": code_at(&totp, 1)}),
    )
    .await;
    assert_problem(again, 409, "totp_not_pending").await;
}

#[tokio::test]
async fn the_issuer_is_configurable() {
    let app = spawn_auth_app(|c| c.auth.totp.issuer = "Acme Notes".into()).await;
    let token = account(&app, "issuer@example.com").await;
    let (totp, data) = enrol(&app, &token).await;
    assert_eq!(totp.issuer(), Some("Acme Notes"), "{data}");
    assert_eq!(data["issuer"], "Acme Notes");
}

#[tokio::test]
async fn disabling_needs_a_fresh_factor() {
    let app = spawn_auth_app(|_| {}).await;
    let token = account(&app, "disable@example.com").await;
    let not_on = call(
        &app,
        Method::DELETE,
        "/totp",
        &token,
        &json!({"code": "123456"}),
    )
    .await;
    assert_problem(not_on, 409, "totp_not_enabled").await;
    let (totp, recovery) = enable(&app, &token).await;

    let missing = call(&app, Method::DELETE, "/totp", &token, &json!({})).await;
    assert_problem(missing, 400, "validation_failed").await;
    let wrong = call(
        &app,
        Method::DELETE,
        "/totp",
        &token,
        &json!({"code": wrong_code(&totp, 7)}),
    )
    .await;
    assert_problem(wrong, 401, "second_factor_invalid").await;
    // The code that confirmed the enrolment is spent: it is not a fresh factor.
    let replayed = call(
        &app,
        Method::DELETE,
        "/totp",
        &token,
        &json!({"code": code_at(&totp, 0)}),
    )
    .await;
    assert_problem(replayed, 401, "second_factor_invalid").await;
    assert_eq!(status(&app, &token).await["enabled"], true);

    let by_recovery = call(
        &app,
        Method::DELETE,
        "/totp",
        &token,
        &json!({"code": recovery[0]}),
    )
    .await;
    assert_eq!(by_recovery.status(), 204);
    let off = status(&app, &token).await;
    assert_eq!(off["enabled"], false, "{off}");
    assert_eq!(off["recovery_codes_left"], 0, "{off}");
    // Off: the password alone signs in again.
    login(&app, "disable@example.com", PASSWORD).await;
}

#[tokio::test]
async fn new_recovery_codes_and_a_new_secret_need_a_fresh_factor() {
    let app = spawn_auth_app(|_| {}).await;
    let token = account(&app, "renew@example.com").await;
    let (totp, old) = enable(&app, &token).await;

    let unproven = call(
        &app,
        Method::POST,
        "/totp/recovery-codes",
        &token,
        &json!({}),
    )
    .await;
    assert_problem(unproven, 400, "validation_failed").await;
    let renewed = call(
        &app,
        Method::POST,
        "/totp/recovery-codes",
        &token,
        &json!({"code": code_at(&totp, 1)}),
    )
    .await;
    let fresh = json_with_status(renewed, 200).await["data"]["recovery_codes"].clone();
    assert_eq!(fresh.as_array().map(Vec::len), Some(10), "{fresh}");
    // The old codes stopped working.
    let stale = call(
        &app,
        Method::POST,
        "/totp",
        &token,
        &json!({"code": old[0]}),
    )
    .await;
    assert_problem(stale, 401, "second_factor_invalid").await;

    // Re-enrolling while on needs a factor too; the old secret stays on until confirmation.
    let unproven = call(&app, Method::POST, "/totp", &token, &json!({})).await;
    assert_problem(unproven, 400, "validation_failed").await;
    let fresh_code = fresh[0].as_str().unwrap();
    let started = call(
        &app,
        Method::POST,
        "/totp",
        &token,
        &json!({"code": fresh_code}),
    )
    .await;
    let data = json_with_status(started, 201).await["data"].clone();
    assert_ne!(data["secret"], totp.secret().to_base32());
    let state = status(&app, &token).await;
    assert_eq!(state["enabled"], true, "{state}");
    assert_eq!(state["pending"], true, "{state}");
}
