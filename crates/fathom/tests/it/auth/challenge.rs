//! Every 401 from the auth API carries `WWW-Authenticate: Bearer realm="fathom"` (RFC 9110
//! §11.6.1: a 401 MUST send a challenge), whichever code the problem has.

use reqwest::Method;
use serde_json::json;

use super::support::{
    CHALLENGE, NEW_PASSWORD, PASSWORD, WRONG_PASSWORD, bearer, header, login, login_response,
    post_auth, register, spawn_auth_app,
};

#[tokio::test]
async fn every_401_carries_the_bearer_challenge() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "challenge@example.com";
    register(&app, email, PASSWORD).await;
    let session = login(&app, email, PASSWORD).await;
    let access = session["access_token"].as_str().unwrap();

    let mut responses = vec![
        (
            "POST /login, wrong password".to_owned(),
            login_response(&app, email, WRONG_PASSWORD, None).await,
        ),
        (
            "POST /login, unknown email".to_owned(),
            login_response(&app, "nobody@example.com", WRONG_PASSWORD, None).await,
        ),
        (
            "POST /refresh, unknown token".to_owned(),
            post_auth(&app, "/refresh", &json!({"refresh_token": "nope"}), None).await,
        ),
        (
            "POST /password, wrong current password".to_owned(),
            bearer(&app, Method::POST, "/password", access)
                .json(&json!({"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD}))
                .send()
                .await
                .unwrap(),
        ),
    ];
    for (method, path) in [
        (Method::GET, "/me"),
        (Method::POST, "/logout"),
        (Method::POST, "/password"),
        (Method::GET, "/sessions"),
        (Method::DELETE, "/sessions"),
        (
            Method::DELETE,
            "/sessions/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&format!("/api/v1/auth{path}")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        responses.push((format!("{method} {path}, no token"), response));
    }

    let mut missing = Vec::new();
    for (label, response) in responses {
        assert_eq!(response.status(), 401, "{label}");
        let challenge = header(&response, "www-authenticate");
        if challenge.as_deref() != Some(CHALLENGE) {
            let body: serde_json::Value = response.json().await.unwrap();
            missing.push(format!(
                "{label}: 401 {} with WWW-Authenticate {challenge:?}",
                body["code"]
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "401 responses without `WWW-Authenticate: {CHALLENGE}`:\n{}",
        missing.join("\n")
    );
}
