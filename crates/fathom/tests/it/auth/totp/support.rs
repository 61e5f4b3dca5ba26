//! Helpers of the TOTP tests: an account with the factor on, codes computed here with totp-rs
//! from the secret in the `otpauth://` URI the server answered, and the two sign-in steps.

use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::Totp;

use super::super::support::{PASSWORD, bearer, login, login_response, post_auth, register};
use crate::helpers::{TestApp, json_with_status};

/// An account signed in with its password (before any second factor): its access token.
pub async fn account(app: &TestApp, email: &str) -> String {
    register(app, email, PASSWORD).await;
    login(app, email, PASSWORD).await["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// A bearer call to `/api/v1/auth{path}` with a JSON body.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    bearer(app, method, path, token)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// `GET /totp`'s `data`.
pub async fn status(app: &TestApp, token: &str) -> Value {
    let response = bearer(app, Method::GET, "/totp", token)
        .send()
        .await
        .expect("request sent");
    json_with_status(response, 200).await["data"].clone()
}

/// Starts an enrolment: the TOTP of the answered URI, and the answer's `data`.
pub async fn enrol(app: &TestApp, token: &str) -> (Totp, Value) {
    let response = call(app, Method::POST, "/totp", token, &json!({})).await;
    let data = json_with_status(response, 201).await["data"].clone();
    let uri = data["otpauth_uri"].as_str().expect("an otpauth URI");
    (Totp::from_url(uri).expect("a valid otpauth URI"), data)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The code of the time step `offset` steps from now (the server accepts one step either way).
pub fn code_at(totp: &Totp, offset: i64) -> String {
    let at = now().saturating_add_signed(offset * totp.step() as i64);
    totp.generate(at).to_string()
}

/// A 6-digit code the server cannot accept now: none of the codes of the steps around now.
pub fn wrong_code(totp: &Totp, seed: u32) -> String {
    let near: Vec<String> = (-2..=2).map(|o| code_at(totp, o)).collect();
    (seed..)
        .map(|n| format!("{:06}", n % 1_000_000))
        .find(|c| !near.contains(c))
        .expect("a wrong code")
}

/// Enrols and confirms with the current code: the TOTP and the recovery codes.
pub async fn enable(app: &TestApp, token: &str) -> (Totp, Vec<String>) {
    let (totp, _) = enrol(app, token).await;
    let response = call(
        app,
        Method::POST,
        "/totp/confirm",
        token,
        &json!({"code": code_at(&totp, 0)}),
    )
    .await;
    let data = json_with_status(response, 200).await["data"].clone();
    let codes = data["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("a code").to_owned())
        .collect();
    (totp, codes)
}

/// The password step of a sign-in to an account with TOTP on: its challenge (asserting the 202
/// carries no token).
pub async fn password_step(app: &TestApp, email: &str) -> String {
    let body = json_with_status(login_response(app, email, PASSWORD, None).await, 202).await;
    let data = &body["data"];
    assert_eq!(data["second_factor_required"], true, "{body}");
    assert!(data.get("access_token").is_none(), "{body}");
    assert!(data.get("refresh_token").is_none(), "{body}");
    data["challenge"].as_str().expect("a challenge").to_owned()
}

/// The second step: `POST /login/second-factor`.
pub async fn second_factor(app: &TestApp, challenge: &str, code: &str) -> reqwest::Response {
    post_auth(
        app,
        "/login/second-factor",
        &json!({"challenge": challenge, "code": code}),
        None,
    )
    .await
}
