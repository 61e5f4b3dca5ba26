//! Accounts and tokens that let every documented auth and admin operation succeed, so the
//! router-agreement test can send each one a real request: an administrator with a session per
//! operation that spends one, a member, mailed single-use tokens, and passkey ceremonies a
//! software authenticator has answered.
use fathom_auth::{PasswordHasher, PasswordParams};
use fathom_store::NewUser;
use serde_json::{Value, json};

use crate::auth::passkeys::device::{Device, add_passkey, registration_options, sign_in_options};
use crate::helpers::{TestApp, json_with_status};

const PASSWORD: &str = "a long and unusual passphrase 2026";
const NEW_PASSWORD: &str = "another quite unusual passphrase 7";
const ADMIN_EMAIL: &str = "root@example.com";
const MEMBER_EMAIL: &str = "member@example.com";
/// Registered (unverified) by the fixture; its verification and reset tokens are spent by the
/// operations under test.
const FRESH_EMAIL: &str = "fresh@example.com";
/// Registered by the operation under test.
const NEWCOMER_EMAIL: &str = "newcomer@example.com";

/// What one documented operation is sent: the concrete path, the body and the bearer token.
pub struct Call {
    pub path: String,
    pub body: Option<Value>,
    pub token: Option<String>,
}

/// The users, sessions and tokens of the fixture. Each `Value` is the `data` of a login.
pub struct Accounts {
    /// The administrator's main session: reads, admin calls, and ending the other sessions.
    admin: Value,
    /// An administrator session ended by `POST /logout`.
    logout: Value,
    /// An administrator session ended by `DELETE /sessions/{id}`.
    revoked: Value,
    /// An administrator session renewed by `POST /refresh`.
    refresh: Value,
    /// A user without the `admin` role; changes its password.
    member: Value,
    verify_token: String,
    reset_token: String,
    /// An API key the revoke operation can revoke.
    api_key_id: String,
    /// A webhook endpoint (to a closed loopback port, allow-listed in this test).
    webhook_id: String,
    /// The accounts of the TOTP operations.
    totp: super::totp_fixture::TotpFixture,
    /// A user whose password an administrator sets.
    spare_id: String,
    /// A user an administrator deletes.
    doomed_id: String,
    /// The body finishing a passkey registration an authenticator has answered.
    passkey_registration: Value,
    /// The body finishing a passkey sign-in an authenticator has answered.
    passkey_sign_in: Value,
    /// A passkey of the administrator that the remove operation can remove.
    passkey_id: String,
}

/// Creates a verified user directly in the store (as `fathom users create-admin` does).
async fn create_user(app: &TestApp, email: &str, roles: &[&str]) -> String {
    let hasher = PasswordHasher::new(PasswordParams::default(), 2).unwrap();
    let hash = hasher.hash(PASSWORD).await.unwrap();
    app.store
        .create_user(NewUser {
            email: email.into(),
            password_hash: hash,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            tenant: None,
            verified: true,
        })
        .await
        .unwrap()
        .id
        .to_string()
}

/// Signs in through the API and returns `data` (the token pair, session and user).
async fn login(app: &TestApp, email: &str) -> Value {
    let body = json!({ "email": email, "password": PASSWORD });
    let response = app.post_json("/api/v1/auth/login", &body).await;
    json_with_status(response, 200).await["data"].clone()
}

/// The token in the link of the newest mail to `email` whose subject starts with `subject`
/// (mail is written after the answer, so it may take a moment to arrive).
async fn mailed_token(app: &TestApp, email: &str, subject: &str) -> String {
    for _ in 0..200 {
        let mails = app.auth.mailbox.to(email);
        if let Some(mail) = mails.iter().rev().find(|m| m.subject.starts_with(subject)) {
            let link = mail.body.split_whitespace().find(|w| w.contains("#token="));
            return link.unwrap().split_once("#token=").unwrap().1.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no mail `{subject}…` to {email}")
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no `{pointer}` in {value}"))
}

impl Accounts {
    pub async fn new(app: &TestApp) -> Self {
        create_user(app, ADMIN_EMAIL, &["admin"]).await;
        create_user(app, MEMBER_EMAIL, &["user"]).await;
        let admin = login(app, ADMIN_EMAIL).await;
        let logout = login(app, ADMIN_EMAIL).await;
        let revoked = login(app, ADMIN_EMAIL).await;
        let refresh = login(app, ADMIN_EMAIL).await;
        let member = login(app, MEMBER_EMAIL).await;

        let register = json!({ "email": FRESH_EMAIL, "password": PASSWORD });
        let response = app.post_json("/api/v1/auth/register", &register).await;
        json_with_status(response, 202).await;
        let verify_token = mailed_token(app, FRESH_EMAIL, "Verify your email").await;
        let reset = json!({ "email": FRESH_EMAIL });
        let response = app.post_json("/api/v1/auth/password-reset", &reset).await;
        json_with_status(response, 202).await;
        let reset_token = mailed_token(app, FRESH_EMAIL, "Reset your password").await;
        let key = json!({ "name": "to revoke", "scopes": ["categories:list"] });
        let created = app.post_json("/api/v1/admin/api-keys", &key).await;
        let api_key_id = text(&json_with_status(created, 201).await, "/data/id").to_owned();
        let hook = json!({ "url": "http://127.0.0.1:9/hook" });
        let created = app.post_json("/api/v1/admin/webhooks", &hook).await;
        let webhook_id = text(&json_with_status(created, 201).await, "/data/id").to_owned();
        let totp = super::totp_fixture::TotpFixture::new(app).await;
        let spare_id = create_user(app, "spare@example.com", &["user"]).await;
        let doomed_id = create_user(app, "doomed@example.com", &["user"]).await;

        let token = text(&admin, "/access_token").to_owned();
        let mut kept = Device::new(false);
        add_passkey(app, &token, &mut kept, "Kept").await;
        let removed = add_passkey(app, &token, &mut Device::new(false), "Removed").await;
        let passkey_id = text(&removed, "/id").to_owned();
        let (ceremony, options) = registration_options(app, &token).await;
        let credential = Device::new(false).create(&options).await;
        let passkey_registration =
            json!({ "ceremony_id": ceremony, "name": "Documented", "credential": credential });
        let (ceremony, options) = sign_in_options(app).await;
        let credential = kept.assert(&options).await;
        let passkey_sign_in = json!({ "ceremony_id": ceremony, "credential": credential });

        Self {
            admin,
            logout,
            revoked,
            refresh,
            member,
            verify_token,
            reset_token,
            api_key_id,
            webhook_id,
            totp,
            spare_id,
            doomed_id,
            passkey_registration,
            passkey_sign_in,
            passkey_id,
        }
    }

    pub fn admin_token(&self) -> &str {
        text(&self.admin, "/access_token")
    }

    pub fn member_token(&self) -> &str {
        text(&self.member, "/access_token")
    }

    pub fn member_id(&self) -> &str {
        text(&self.member, "/user/id")
    }

    /// The request that makes `method path` (a documented auth or admin operation) succeed.
    /// Panics on an operation it does not know, so a new endpoint cannot go untried.
    pub fn call(&self, method: &str, path: &str) -> Call {
        let public = |body: Value| Call {
            path: path.to_owned(),
            body: Some(body),
            token: None,
        };
        let with = |session: &Value, path: String, body: Option<Value>| Call {
            path,
            body,
            token: Some(text(session, "/access_token").to_owned()),
        };
        let admin = |body: Option<Value>| with(&self.admin, path.to_owned(), body);
        let member_path = || path.replace("{id}", self.member_id());
        if let Some(call) = self.totp.call(method, path) {
            return call;
        }
        match (method, path.trim_start_matches("/api/v1")) {
            ("post", "/auth/register") => {
                public(json!({ "email": NEWCOMER_EMAIL, "password": PASSWORD }))
            }
            ("post", "/auth/verify") => public(json!({ "token": self.verify_token })),
            ("post", "/auth/verify/resend") => public(json!({ "email": FRESH_EMAIL })),
            ("post", "/auth/email") => with(
                &self.admin,
                path.to_owned(),
                Some(json!({ "new_email": "elsewhere@example.com", "password": PASSWORD })),
            ),
            ("post", "/admin/users") => admin(Some(json!({
                "email": "made@example.com",
                "password": PASSWORD,
                "roles": ["editor"],
            }))),
            ("put", "/admin/users/{id}/password") => with(
                &self.admin,
                path.replace("{id}", &self.spare_id),
                Some(json!({ "password": NEW_PASSWORD })),
            ),
            ("delete", "/admin/users/{id}") => {
                with(&self.admin, path.replace("{id}", &self.doomed_id), None)
            }
            ("post", "/auth/login") => {
                public(json!({ "email": ADMIN_EMAIL, "password": PASSWORD }))
            }
            ("post", "/auth/refresh") => {
                public(json!({ "refresh_token": text(&self.refresh, "/refresh_token") }))
            }
            ("post", "/auth/password-reset") => public(json!({ "email": MEMBER_EMAIL })),
            ("post", "/auth/password-reset/confirm") => public(json!({
                "token": self.reset_token,
                "new_password": NEW_PASSWORD,
            })),
            ("get", "/auth/jwks.json") => Call {
                path: path.to_owned(),
                body: None,
                token: None,
            },
            ("post", "/auth/logout") => with(&self.logout, path.to_owned(), None),
            ("post", "/auth/password") => with(
                &self.member,
                path.to_owned(),
                Some(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
            ),
            ("delete", "/auth/sessions/{id}") => with(
                &self.admin,
                path.replace("{id}", text(&self.revoked, "/session_id")),
                None,
            ),
            ("get", "/auth/me" | "/auth/sessions" | "/admin/users" | "/admin/audit")
            | ("get", "/admin/api-keys" | "/admin/brokers" | "/admin/advice")
            | ("delete", "/auth/sessions") => admin(None),
            ("get", "/admin/mailbox") => {
                with(&self.admin, format!("{path}?to={FRESH_EMAIL}"), None)
            }
            ("patch", "/auth/me") => admin(Some(json!({ "display_name": "Ada" }))),
            ("post", "/admin/api-keys") => admin(Some(json!({
                "name": "documented",
                "scopes": ["categories:list"],
            }))),
            ("delete", "/admin/api-keys/{id}") => {
                with(&self.admin, path.replace("{id}", &self.api_key_id), None)
            }
            ("get", "/admin/users/{id}") => with(&self.admin, member_path(), None),
            ("patch", "/admin/users/{id}") => with(
                &self.admin,
                member_path(),
                Some(json!({ "verified": true })),
            ),
            ("post", "/auth/passkeys/registration/options") | ("get", "/auth/passkeys") => {
                admin(None)
            }
            ("post", "/auth/passkeys") => admin(Some(self.passkey_registration.clone())),
            ("delete", "/auth/passkeys/{id}") => {
                with(&self.admin, path.replace("{id}", &self.passkey_id), None)
            }
            ("post", "/auth/passkeys/login/options") => public(json!({})),
            ("post", "/auth/passkeys/login") => public(self.passkey_sign_in.clone()),
            ("get", "/admin/webhooks") => admin(None),
            ("post", "/admin/webhooks") => {
                admin(Some(json!({ "url": "http://127.0.0.1:9/other" })))
            }
            (_, p) if p.starts_with("/admin/webhooks/{id}") => {
                let body = match (method, p) {
                    ("patch", _) => Some(json!({ "description": "documented" })),
                    (_, "/admin/webhooks/{id}/replay") => Some(json!({ "dead_letters": true })),
                    ("post", _) => Some(json!({})),
                    _ => None,
                };
                with(&self.admin, path.replace("{id}", &self.webhook_id), body)
            }
            _ => panic!("{method} {path} is new: add a request for it to `Accounts::call`"),
        }
    }
}
