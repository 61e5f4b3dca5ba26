//! The TOTP events in the audit log, as the login entries are: enrolment, sign-in challenges,
//! second-factor failures (with the reason, never the code) and successes, and disabling.

use reqwest::Method;
use serde_json::{Value, json};

use super::super::support::me;
use super::support::{account, call, code_at, enable, password_step, second_factor, wrong_code};
use crate::auth::support::spawn_auth_app;
use crate::helpers::{TestApp, json_with_status};

/// `(action, outcome, actor, detail)` of every audit entry whose action is `action`.
async fn entries(app: &TestApp, action: &str) -> Vec<(String, String, Value, Value)> {
    let response = app
        .anonymous
        .get(app.url(&format!("/api/v1/admin/audit?action={action}&limit=100")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 200).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
                e["actor"].clone(),
                e["detail"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn enrolment_failures_sign_ins_and_disabling_are_audited() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "audited@example.com";
    let token = account(&app, email).await;
    let id = me(&app, &token).await["id"].clone();
    let (totp, recovery) = enable(&app, &token).await;
    let challenge = password_step(&app, email).await;
    let wrong = wrong_code(&totp, 4242);
    assert_eq!(second_factor(&app, &challenge, &wrong).await.status(), 401);
    assert_eq!(
        second_factor(&app, &challenge, &code_at(&totp, 1))
            .await
            .status(),
        200
    );
    let off = call(
        &app,
        Method::DELETE,
        "/totp",
        &token,
        &json!({"code": recovery[0]}),
    )
    .await;
    assert_eq!(off.status(), 204);

    let enrol = entries(&app, "totp_enrol").await;
    for outcome in ["started", "success"] {
        assert!(
            enrol
                .iter()
                .any(|(_, o, actor, _)| o == outcome && *actor == id),
            "{outcome}: {enrol:?}"
        );
    }
    let second = entries(&app, "second_factor").await;
    assert!(
        second
            .iter()
            .any(|(_, o, a, d)| o == "failure" && *a == id && d == "wrong totp code"),
        "{second:?}"
    );
    assert!(
        second
            .iter()
            .any(|(_, o, a, d)| o == "success" && *a == id && d == "totp"),
        "{second:?}"
    );
    assert!(
        !second
            .iter()
            .any(|(_, _, _, d)| d.as_str().is_some_and(|d| d.contains(&wrong))),
        "the code itself is never logged"
    );
    let disabled = entries(&app, "totp_disable").await;
    assert!(
        disabled
            .iter()
            .any(|(_, o, a, _)| o == "success" && *a == id),
        "{disabled:?}"
    );
    let logins = entries(&app, "login").await;
    assert!(
        logins
            .iter()
            .any(|(_, o, a, _)| o == "challenge" && *a == id),
        "{logins:?}"
    );
}
