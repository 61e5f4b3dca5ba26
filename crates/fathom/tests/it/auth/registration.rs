//! Registration: the uniform 202, email verification by mailed single-use token, a taken address
//! answered exactly like a free one (the owner is told instead), and the password policy.

use serde_json::json;

use super::support::{
    PASSWORD, login, mailed_token, me, post_auth, register, spawn_auth_app, without_request_id,
};
use crate::helpers::assert_problem;

#[tokio::test]
async fn registration_mails_a_single_use_verification_token() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "ada@example.com";
    let body = register(&app, email, PASSWORD).await;
    assert_eq!(body["data"]["status"], "accepted", "{body}");
    assert!(body["data"]["message"].is_string(), "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");

    let mails = app.auth.mailbox.to(email);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].subject, "Verify your email address");
    let token = mailed_token(&app, email, "Verify your email");
    assert!(token.len() >= 32, "the token looks too short to be random");

    // Not verified before the token comes back.
    let session = login(&app, email, PASSWORD).await;
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(session["user"]["verified"], false, "{session}");
    assert_eq!(me(&app, access).await["verified"], false);

    let response = post_auth(&app, "/verify", &json!({"token": token}), None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(me(&app, access).await["verified"], true);

    // The token is single-use.
    let reused = post_auth(&app, "/verify", &json!({"token": token}), None).await;
    let problem = assert_problem(reused, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "token", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "invalid_token", "{problem}");

    // A made-up token is refused the same way.
    let forged = post_auth(&app, "/verify", &json!({"token": "A".repeat(43)}), None).await;
    let problem = assert_problem(forged, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "invalid_token", "{problem}");
}

#[tokio::test]
async fn a_taken_address_gets_the_same_answer_and_its_owner_is_told() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "grace@example.com";
    let first = register(&app, email, PASSWORD).await;
    let first_request_id = first["meta"]["requestId"].clone();

    // Same address (other case, other password): same status and body but for the request id.
    let second = register(&app, "Grace@Example.com", "another passphrase entirely").await;
    assert_ne!(second["meta"]["requestId"], first_request_id);
    assert_eq!(without_request_id(first), without_request_id(second));

    let subjects: Vec<String> = app
        .auth
        .mailbox
        .to(email)
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        subjects,
        [
            "Verify your email address",
            "Someone tried to register with your address"
        ],
        "the owner, not the requester, learns of the attempt; no second token is mailed"
    );
    let warning = app.auth.mailbox.to(email).pop().unwrap();
    assert!(
        !warning.body.contains("verify"),
        "the warning carries no token: {:?}",
        warning.body
    );

    // The original password still signs in; the second one never took effect.
    login(&app, email, PASSWORD).await;
}

#[tokio::test]
async fn the_password_policy_is_enforced_at_registration() {
    let app = spawn_auth_app(|_| {}).await;
    let cases = [
        ("short@example.com", "short pass", "too_short"),
        ("common@example.com", "password1234", "too_common"),
        ("common2@example.com", "PassWord1234", "too_common"),
        (
            "correct.horse.battery@example.com",
            "correct.horse.battery@example.com",
            "same_as_email",
        ),
        (
            "correct.horse.battery@example.com",
            "Correct.Horse.Battery",
            "same_as_email",
        ),
    ];
    for (email, password, code) in cases {
        let response = post_auth(
            &app,
            "/register",
            &json!({"email": email, "password": password}),
            None,
        )
        .await;
        let problem = assert_problem(response, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "password", "{problem}");
        assert_eq!(
            problem["errors"][0]["code"], code,
            "{email} / {password}: {problem}"
        );
        assert!(
            !problem.to_string().contains(password),
            "the problem must not echo the password: {problem}"
        );
        assert!(
            app.auth.mailbox.to(email).is_empty(),
            "a refused registration sends no mail"
        );
        assert!(app.store.user_by_email(email).await.unwrap().is_none());
    }

    // Missing fields and a malformed address are validation problems too.
    for (body, field) in [
        (json!({"email": "x@example.com"}), "password"),
        (json!({"password": PASSWORD}), "email"),
        (
            json!({"email": "not an address", "password": PASSWORD}),
            "email",
        ),
    ] {
        let response = post_auth(&app, "/register", &body, None).await;
        let problem = assert_problem(response, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // The configured minimum length is the one enforced.
    let strict = spawn_auth_app(|c| c.auth.password_min_length = 40).await;
    let response = post_auth(
        &strict,
        "/register",
        &json!({"email": "long@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    let problem = assert_problem(response, 400, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "too_short", "{problem}");
}
