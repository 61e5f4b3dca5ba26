//! A software authenticator behind a WebAuthn client, and the calls a web page would make with
//! it against the server: options, the authenticator's answer, the finishing request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashMap;

use fathom::Config;
use passkey_authenticator::{
    Authenticator, CredentialStore, DiscoverabilitySupport, StoreInfo, UiHint, UserCheck,
    UserValidationMethod,
};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::rust_crypto::RustCryptoBackend;
use passkey_types::Passkey;
use passkey_types::ctap2::make_credential::{
    Options, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity,
};
use passkey_types::ctap2::{Aaguid, Ctap2Error, StatusCode};
use passkey_types::webauthn::{
    CredentialCreationOptions, CredentialRequestOptions, PublicKeyCredentialDescriptor,
};
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use crate::auth::support::{PASSWORD, bearer, login, post_auth, register, spawn_auth_app};
use crate::helpers::{TestApp, json_with_status};

/// The relying party of the tests' servers.
pub const RP_ID: &str = "example.com";
/// The one origin the servers allow.
pub const ORIGIN: &str = "https://app.example.com";

/// Passkeys on for [`RP_ID`] from [`ORIGIN`].
pub fn passkey_config(c: &mut Config) {
    c.auth.passkeys.rp_id = Some(RP_ID.into());
    c.auth.passkeys.rp_name = Some("Fathom tests".into());
    c.auth.passkeys.origins = vec![ORIGIN.into()];
}

/// A server with passkeys on for [`RP_ID`] from [`ORIGIN`].
pub async fn spawn_passkey_app() -> TestApp {
    spawn_auth_app(passkey_config).await
}

/// A user who is there and consents to every operation (presence and verification).
struct Consenting;

#[async_trait::async_trait]
impl UserValidationMethod for Consenting {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Self::PasskeyItem>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// The authenticator's keys. Unlike passkey-authenticator's `MemoryStore`, which finds keys only
/// by the ids the server lists, it offers every key it holds for the relying party when the
/// server lists none: a discoverable sign-in, as phones and password managers do it.
#[derive(Clone, Default)]
struct Keychain(HashMap<Vec<u8>, Passkey>);

#[async_trait::async_trait]
impl CredentialStore for Keychain {
    type PasskeyItem = Passkey;

    async fn find_credentials(
        &self,
        ids: Option<&[PublicKeyCredentialDescriptor]>,
        rp_id: &str,
        _user_handle: Option<&[u8]>,
    ) -> Result<Vec<Passkey>, StatusCode> {
        let found: Vec<Passkey> = match ids {
            Some(ids) if !ids.is_empty() => ids
                .iter()
                .filter_map(|d| self.0.get(&*d.id))
                .cloned()
                .collect(),
            _ => self
                .0
                .values()
                .filter(|p| p.rp_id == rp_id)
                .cloned()
                .collect(),
        };
        if found.is_empty() {
            Err(Ctap2Error::NoCredentials.into())
        } else {
            Ok(found)
        }
    }

    async fn save_credential(
        &mut self,
        passkey: Passkey,
        _user: PublicKeyCredentialUserEntity,
        _rp: PublicKeyCredentialRpEntity,
        _options: Options,
    ) -> Result<(), StatusCode> {
        self.0.insert(passkey.credential_id.to_vec(), passkey);
        Ok(())
    }

    async fn update_credential(&mut self, passkey: &Passkey) -> Result<(), StatusCode> {
        self.0
            .insert(passkey.credential_id.to_vec(), passkey.clone());
        Ok(())
    }

    async fn get_info(&self) -> StoreInfo {
        StoreInfo {
            discoverability: DiscoverabilitySupport::ForcedDiscoverable,
        }
    }
}

type SoftClient =
    Client<Keychain, Consenting, RustCryptoBackend, public_suffix::PublicSuffixList, ()>;

/// One authenticator (a phone, a password manager) and the page origin it answers for.
pub struct Device {
    client: SoftClient,
    origin: Url,
}

impl Device {
    /// An authenticator with no passkey, answering for [`ORIGIN`]. With `counter`, its passkeys
    /// keep a signature counter (as hardware keys do; synced passkeys report 0).
    pub fn new(counter: bool) -> Self {
        Self::with_store(Keychain::default(), counter)
    }

    fn with_store(store: Keychain, counter: bool) -> Self {
        let mut authenticator =
            Authenticator::new(Aaguid::new_empty(), store, Consenting, RustCryptoBackend);
        authenticator.set_make_credentials_with_signature_counter(counter);
        Self {
            client: Client::new(authenticator),
            origin: Url::parse(ORIGIN).expect("origin"),
        }
    }

    /// A copy of this authenticator's keys, counters included, in a second authenticator.
    pub fn clone_keys(&self) -> Self {
        let store = self.client.authenticator().store().clone();
        Self::with_store(store, true)
    }

    /// The same keys, answering as if the page were at `origin`.
    pub fn at(mut self, origin: &str) -> Self {
        self.origin = Url::parse(origin).expect("origin");
        self
    }

    /// The authenticator's answer to registration `options` (the server's `options` member).
    pub async fn create(&mut self, options: &Value) -> Value {
        let request: CredentialCreationOptions =
            serde_json::from_value(json!({"publicKey": options["publicKey"]}))
                .expect("the server's creation options are WebAuthn JSON");
        let created = self
            .client
            .register(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator creates a passkey");
        browser_json(serde_json::to_value(created).expect("serialisable"))
    }

    /// The authenticator's answer to sign-in `options`.
    pub async fn assert(&mut self, options: &Value) -> Value {
        let request: CredentialRequestOptions =
            serde_json::from_value(json!({"publicKey": options["publicKey"]}))
                .expect("the server's request options are WebAuthn JSON");
        let asserted = self
            .client
            .authenticate(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator signs the challenge");
        browser_json(serde_json::to_value(asserted).expect("serialisable"))
    }
}

/// The client's credential as a browser's `PublicKeyCredential.toJSON()` gives it: passkey-types
/// serialises some binary members as arrays of bytes, the browser as base64url text.
fn browser_json(mut credential: Value) -> Value {
    fn text(value: &mut Value) {
        if let Some(items) = value.as_array() {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            if let Some(bytes) = bytes {
                *value = json!(URL_SAFE_NO_PAD.encode(bytes));
            }
        }
    }
    text(&mut credential["rawId"]);
    if let Some(response) = credential["response"].as_object_mut() {
        for (name, value) in response.iter_mut() {
            if name != "transports" {
                text(value);
            }
        }
    }
    credential
}

/// A new account, signed in: (access token, user id).
pub async fn signed_in(app: &TestApp, email: &str) -> (String, String) {
    register(app, email, PASSWORD).await;
    let data = login(app, email, PASSWORD).await;
    let token = data["access_token"].as_str().expect("token").to_owned();
    let user = data["user"]["id"].as_str().expect("user id").to_owned();
    (token, user)
}

/// `POST /passkeys/registration/options` as `token`: (ceremony id, options).
pub async fn registration_options(app: &TestApp, token: &str) -> (String, Value) {
    let response = bearer(app, Method::POST, "/passkeys/registration/options", token)
        .send()
        .await
        .expect("sent");
    let data = json_with_status(response, 200).await["data"].clone();
    let id = data["ceremony_id"]
        .as_str()
        .expect("ceremony id")
        .to_owned();
    (id, data["options"].clone())
}

/// `POST /passkeys` finishing registration `ceremony` with `credential`.
pub async fn finish_registration(
    app: &TestApp,
    token: &str,
    ceremony: &str,
    name: &str,
    credential: &Value,
) -> reqwest::Response {
    bearer(app, Method::POST, "/passkeys", token)
        .json(&json!({"ceremony_id": ceremony, "name": name, "credential": credential}))
        .send()
        .await
        .expect("sent")
}

/// Registers a passkey on `device` for the account of `token`; returns the passkey's listing.
pub async fn add_passkey(app: &TestApp, token: &str, device: &mut Device, name: &str) -> Value {
    let (ceremony, options) = registration_options(app, token).await;
    let credential = device.create(&options).await;
    let response = finish_registration(app, token, &ceremony, name, &credential).await;
    json_with_status(response, 201).await["data"].clone()
}

/// `POST /passkeys/login/options`: (ceremony id, options).
pub async fn sign_in_options(app: &TestApp) -> (String, Value) {
    let response = post_auth(app, "/passkeys/login/options", &json!({}), None).await;
    let data = json_with_status(response, 200).await["data"].clone();
    let id = data["ceremony_id"]
        .as_str()
        .expect("ceremony id")
        .to_owned();
    (id, data["options"].clone())
}

/// `POST /passkeys/login` with `ceremony` and `credential`.
pub async fn finish_sign_in(
    app: &TestApp,
    ceremony: &str,
    credential: &Value,
) -> reqwest::Response {
    post_auth(
        app,
        "/passkeys/login",
        &json!({"ceremony_id": ceremony, "credential": credential}),
        None,
    )
    .await
}

/// A whole sign-in with `device`: the answer to the finishing request.
pub async fn sign_in_with(app: &TestApp, device: &mut Device) -> reqwest::Response {
    let (ceremony, options) = sign_in_options(app).await;
    let credential = device.assert(&options).await;
    finish_sign_in(app, &ceremony, &credential).await
}

/// A whole sign-in with `device` that must succeed: the token pair's `data`.
pub async fn signs_in(app: &TestApp, device: &mut Device) -> Value {
    let data = json_with_status(sign_in_with(app, device).await, 200).await["data"].clone();
    assert_eq!(data["token_type"], "Bearer", "{data}");
    assert!(
        data["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{data}"
    );
    data
}

/// `GET /passkeys` as `token`.
pub async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let response = bearer(app, Method::GET, "/passkeys", token)
        .send()
        .await
        .expect("sent");
    json_with_status(response, 200).await["data"]
        .as_array()
        .cloned()
        .expect("a list")
}

/// `DELETE /passkeys/{id}` as `token`.
pub async fn remove(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    bearer(app, Method::DELETE, &format!("/passkeys/{id}"), token)
        .send()
        .await
        .expect("sent")
}
