//! Registration: the uniform 202, email verification by a mailed link (built from the configured
//! application URL) carrying a single-use token, a taken address answered exactly like a free
//! one (the owner is told instead), the password policy, sign-in refused to unverified accounts
//! when so configured, and the starter schema keeping writes for verified users.

use reqwest::Method;
use serde_json::json;

use super::support::{
    PASSWORD, await_mails, bearer, login, login_response, mailed_token, me, post_auth, register,
    spawn_auth_app, without_request_id,
};
use crate::helpers::{assert_problem, json_with_status, spawn_app_with};

#[tokio::test]
async fn registration_mails_a_single_use_verification_token() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "ada@example.com";
    let body = register(&app, email, PASSWORD).await;
    assert_eq!(body["data"]["status"], "accepted", "{body}");
    assert!(body["data"]["message"].is_string(), "{body}");
    assert!(body["meta"]["requestId"].is_string(), "{body}");

    let mails = await_mails(&app, email, 1).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].subject, "Verify your email address");
    let token = mailed_token(&app, email, "Verify your email").await;
    assert!(token.len() >= 32, "the token looks too short to be random");
    // The mail carries a link to the application (by default on this server's port), the
    // token in its fragment, which browsers never send to a server.
    let link = format!("http://localhost:8090/verify-email#token={token}");
    assert!(mails[0].body.contains(&link), "{}", mails[0].body);
    assert!(mails[0].body.contains("24 hours"), "{}", mails[0].body);

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

    // Same address (other case, other password): same status and body but for the request id
    // and the id: the new account's for the first, one naming no account for the second.
    let second = register(&app, "Grace@Example.com", "another passphrase entirely").await;
    assert_ne!(second["meta"]["requestId"], first_request_id);
    let grace = app
        .store
        .user_by_email(email)
        .await
        .unwrap()
        .expect("grace");
    assert_eq!(first["data"]["id"], grace.id.to_string(), "{first}");
    let decoy = uuid::Uuid::parse_str(second["data"]["id"].as_str().expect("an id")).unwrap();
    assert_eq!(decoy.get_version_num(), 7, "made like an account id");
    assert!(app.store.user_by_id(decoy).await.unwrap().is_none());
    let without_id = |mut body: serde_json::Value| {
        body["data"].as_object_mut().unwrap().remove("id");
        without_request_id(body)
    };
    assert_eq!(without_id(first), without_id(second));

    let subjects: Vec<String> = await_mails(&app, email, 2)
        .await
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

#[tokio::test]
async fn mailed_links_follow_the_configured_application_url_and_template() {
    let app = spawn_auth_app(|c| {
        c.mail.app_url = "https://app.example.com/".into();
        c.mail.reset_url = "{app_url}/account/new-password?lang=en#token={token}".into();
    })
    .await;
    let email = "linked@example.com";
    register(&app, email, PASSWORD).await;
    let requested = post_auth(&app, "/password-reset", &json!({"email": email}), None).await;
    json_with_status(requested, 202).await;
    // Both mails are sent after their answers, so they may arrive in either order.
    let mails = await_mails(&app, email, 2).await;
    let with_subject = |subject: &str| {
        mails
            .iter()
            .find(|m| m.subject.starts_with(subject))
            .unwrap_or_else(|| panic!("no `{subject}` mail in {mails:?}"))
    };
    let verify = with_subject("Verify your email");
    assert!(
        verify
            .body
            .contains("https://app.example.com/verify-email#token="),
        "{}",
        verify.body
    );
    let token = mailed_token(&app, email, "Reset your password").await;
    let link = format!("https://app.example.com/account/new-password?lang=en#token={token}");
    let reset = with_subject("Reset your password");
    assert!(reset.body.contains(&link), "{}", reset.body);
    assert!(reset.body.contains("1 hour"), "{}", reset.body);
}

#[tokio::test]
async fn unverified_accounts_cannot_sign_in_when_verification_is_required() {
    let app = spawn_auth_app(|c| c.auth.require_verified_email = true).await;
    let email = "unverified@example.com";
    register(&app, email, PASSWORD).await;

    let refused = login_response(&app, email, PASSWORD, None).await;
    let problem = assert_problem(refused, 403, "email_not_verified").await;
    assert!(
        problem["hint"]
            .as_str()
            .is_some_and(|h| h.contains("verification")),
        "{problem}"
    );
    // A wrong password learns nothing about verification.
    let wrong = login_response(&app, email, "not the password at all", None).await;
    assert_problem(wrong, 401, "invalid_credentials").await;

    let token = mailed_token(&app, email, "Verify your email").await;
    let verified = post_auth(&app, "/verify", &json!({"token": token}), None).await;
    assert_eq!(verified.status(), 204);
    assert_eq!(login(&app, email, PASSWORD).await["user"]["verified"], true);
}

/// `fathom init`'s starter schema lets signed-in users read tasks but only verified ones write.
#[tokio::test]
async fn the_starter_schema_lets_only_verified_users_write() {
    const STARTER: &str = include_str!("../../../templates/fathom.schema.toml");
    let app = spawn_app_with(STARTER, |c| c.auth.argon2_memory_kib = 19_456)
        .await
        .without_credentials();
    let email = "starter@example.com";
    register(&app, email, PASSWORD).await;
    let task = json!({"title": "write the report"});
    let create = |token: String| {
        let app = &app;
        let task = task.clone();
        async move {
            app.client
                .post(app.url("/api/v1/tasks"))
                .header("authorization", format!("Bearer {token}"))
                .json(&task)
                .send()
                .await
                .unwrap()
        }
    };

    let unverified = login(&app, email, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = bearer(&app, Method::GET, "/me", &unverified)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_problem(create(unverified).await, 403, "forbidden").await;

    let token = mailed_token(&app, email, "Verify your email").await;
    let verified = post_auth(&app, "/verify", &json!({"token": token}), None).await;
    assert_eq!(verified.status(), 204);
    let access = login(&app, email, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    json_with_status(create(access).await, 201).await;
}
