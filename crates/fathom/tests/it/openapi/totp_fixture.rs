//! The accounts that let the TOTP operations succeed in the router-agreement test, set up
//! through the store (no sign-in budget spent): one with TOTP on and a sign-in challenge waiting
//! for its second factor (its recovery code renews the codes), one with an enrolment awaiting
//! confirmation, one without TOTP that enrols, and one with TOTP on that turns it off.

use serde_json::{Value, json};
use totp_rs::{Builder, Secret, Totp};

use super::accounts::Call;
use crate::helpers::{TEST_ADMIN_PASSWORD, TestApp, json_with_status, mint_user};

/// The recovery code of the account that renews its codes (stored hashed as the server does:
/// lowercase, without dashes).
const RECOVERY: &str = "aaaa-bbbb-cccc";

pub struct TotpFixture {
    /// The challenge of a password sign-in to an account with TOTP on, its TOTP and token.
    challenge: String,
    signin: Totp,
    signin_token: String,
    /// An account with an enrolment pending: its token and the pending TOTP.
    pending_token: String,
    pending: Totp,
    /// An account without TOTP.
    new_token: String,
    /// An account with TOTP on, turned off with its recovery code.
    enabled_token: String,
}

fn new_totp() -> (String, Totp) {
    let bytes = [
        uuid::Uuid::new_v4().into_bytes(),
        uuid::Uuid::new_v4().into_bytes(),
    ]
    .concat();
    let secret = Secret::from(bytes);
    let base32 = secret.to_base32();
    let totp = Builder::new().with_secret(secret).build().expect("a TOTP");
    (base32, totp)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn code(totp: &Totp) -> String {
    totp.generate(now()).to_string()
}

/// Turns TOTP on for `user` with `secret`, as if an earlier step had been accepted.
async fn turn_on(app: &TestApp, user: uuid::Uuid, secret: &str, recovery: &[&str]) {
    app.store
        .begin_totp(user, secret, "2999-01-01T00:00:00.000Z".into())
        .await
        .unwrap();
    let factor = app.store.totp_factor(user).await.unwrap().unwrap();
    let hashes = recovery
        .iter()
        .map(|c| fathom_auth::hash_token(&c.replace('-', "")))
        .collect();
    let confirmed = app
        .store
        .confirm_totp(user, factor.pending_sealed.unwrap(), 0, hashes)
        .await
        .unwrap();
    assert!(confirmed);
}

impl TotpFixture {
    pub async fn new(app: &TestApp) -> Self {
        let signin_email = "totp-signin@example.com";
        let (user, signin_token) = mint_user(&app.store, &app.auth, signin_email, &["user"]).await;
        let (secret, signin) = new_totp();
        turn_on(app, user, &secret, &[RECOVERY]).await;
        let body = json!({ "email": signin_email, "password": TEST_ADMIN_PASSWORD });
        let response = app.post_json("/api/v1/auth/login", &body).await;
        let data: Value = json_with_status(response, 202).await["data"].clone();
        let challenge = data["challenge"].as_str().unwrap().to_owned();

        let (user, pending_token) =
            mint_user(&app.store, &app.auth, "totp-pending@example.com", &["user"]).await;
        let (secret, pending) = new_totp();
        app.store
            .begin_totp(user, &secret, "2999-01-01T00:00:00.000Z".into())
            .await
            .unwrap();

        let (_, new_token) =
            mint_user(&app.store, &app.auth, "totp-new@example.com", &["user"]).await;
        let (user, enabled_token) =
            mint_user(&app.store, &app.auth, "totp-on@example.com", &["user"]).await;
        let (secret, _) = new_totp();
        turn_on(app, user, &secret, &[RECOVERY]).await;
        Self {
            challenge,
            signin,
            signin_token,
            pending_token,
            pending,
            new_token,
            enabled_token,
        }
    }

    /// The request that makes a TOTP operation succeed, or `None` for another operation.
    pub fn call(&self, method: &str, path: &str) -> Option<Call> {
        let with = |token: &str, body: Value| Call {
            path: path.to_owned(),
            body: Some(body),
            token: Some(token.to_owned()),
        };
        Some(match (method, path.trim_start_matches("/api/v1")) {
            ("post", "/auth/login/second-factor") => Call {
                path: path.to_owned(),
                body: Some(json!({ "challenge": self.challenge, "code": code(&self.signin) })),
                token: None,
            },
            ("get", "/auth/totp") => Call {
                path: path.to_owned(),
                body: None,
                token: Some(self.pending_token.clone()),
            },
            ("post", "/auth/totp") => with(&self.new_token, json!({})),
            ("post", "/auth/totp/confirm") => {
                with(&self.pending_token, json!({ "code": code(&self.pending) }))
            }
            ("post", "/auth/totp/recovery-codes") => {
                with(&self.signin_token, json!({ "code": RECOVERY }))
            }
            ("delete", "/auth/totp") => with(&self.enabled_token, json!({ "code": RECOVERY })),
            _ => return None,
        })
    }
}
