//! The OAuth tests' client side: Fathom configured against the tests' own provider, a browser
//! that follows no redirects by itself, PKCE verifiers, and the steps of the redirect flow.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fathom::Config;
use fathom::config::{ProviderConfig, ProviderKindConfig, Secret};
use fathom_store::NewUser;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::oauth_idp::{CLIENT_ID, CLIENT_SECRET, TestIdp};
use super::support::{PASSWORD, bearer, post_auth, spawn_auth_app};
use crate::helpers::{TestApp, client_builder, json_with_status};

/// The client app's redirect URI in the allow-list (never contacted: the tests read the
/// redirect to it).
pub const APP: &str = "https://app.example.com/cb";
/// Fathom's public URL as configured; the test maps it to the app's address, known only after
/// the server started.
pub const PUBLIC: &str = "http://127.0.0.1:1";

pub fn configure(c: &mut Config, idp: &TestIdp) {
    c.oauth.public_url = PUBLIC.into();
    c.oauth.redirect_uris = vec![APP.into(), "com.example.app:/oauth".into()];
    let provider = |kind| ProviderConfig {
        kind,
        client_id: CLIENT_ID.into(),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        ..ProviderConfig::default()
    };
    let issuer = idp.issuer();
    c.oauth.providers.insert(
        "test".into(),
        ProviderConfig {
            issuer: Some(issuer.clone()),
            ..provider(ProviderKindConfig::Oidc)
        },
    );
    c.oauth.providers.insert(
        "github".into(),
        ProviderConfig {
            authorize_url: Some(format!("{issuer}/authorize")),
            token_url: Some(format!("{issuer}/github/token")),
            api_url: Some(format!("{issuer}/github/api")),
            ..provider(ProviderKindConfig::Github)
        },
    );
}

pub async fn spawn() -> (TestApp, TestIdp) {
    let idp = TestIdp::start().await;
    let app = spawn_auth_app(|c| configure(c, &idp)).await;
    (app, idp)
}

/// A client that does not follow redirects: the tests follow each one by hand.
pub fn browser() -> reqwest::Client {
    client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn new_verifier() -> String {
    format!(
        "{}{}",
        uuid::Uuid::now_v7().simple(),
        uuid::Uuid::now_v7().simple()
    )
}

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "expected a redirect");
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_owned()
}

pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .into_owned()
        .collect()
}

/// `GET /oauth/{provider}/authorize` with these query parameters.
pub async fn authorize(
    app: &TestApp,
    provider: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut url = url::Url::parse(&app.url(&format!("/api/v1/auth/oauth/{provider}/authorize")))
        .expect("url");
    url.query_pairs_mut().extend_pairs(params);
    browser().get(url).send().await.expect("request sent")
}

/// The parameters of a well-formed authorization request.
pub fn good_params(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("redirect_uri", APP),
        ("state", "client-state-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Follows the provider's URL (consent is automatic) and returns the callback URL on the app.
pub async fn through_provider(app: &TestApp, provider_url: &str) -> String {
    let at_provider = browser()
        .get(provider_url)
        .send()
        .await
        .expect("to the provider");
    let callback = location(&at_provider);
    let mapped = callback
        .strip_prefix(PUBLIC)
        .expect("the provider redirects to Fathom's public URL");
    app.url(mapped)
}

pub async fn get(url: &str) -> reqwest::Response {
    browser().get(url).send().await.expect("request sent")
}

/// Runs the redirect flow up to Fathom's callback answer.
pub async fn to_callback(app: &TestApp, provider: &str, verifier: &str) -> reqwest::Response {
    let challenge = challenge(verifier);
    let started = authorize(app, provider, &good_params(&challenge)).await;
    let callback = through_provider(app, &location(&started)).await;
    get(&callback).await
}

/// Runs the redirect flow to Fathom's code (asserting the client's state comes back).
pub async fn code_for(app: &TestApp, provider: &str, verifier: &str) -> String {
    let answered = to_callback(app, provider, verifier).await;
    let back = location(&answered);
    assert!(back.starts_with(APP), "{back}");
    let query = query_of(&back);
    assert_eq!(query["state"], "client-state-1");
    query["code"].clone()
}

pub async fn redeem(app: &TestApp, code: &str, verifier: &str) -> reqwest::Response {
    post_auth(
        app,
        "/oauth/token",
        &json!({"code": code, "code_verifier": verifier, "redirect_uri": APP}),
        None,
    )
    .await
}

/// The whole sign-in: answers Fathom's token pair (`data`).
pub async fn sign_in(app: &TestApp, provider: &str) -> Value {
    let verifier = new_verifier();
    let code = code_for(app, provider, &verifier).await;
    let data = json_with_status(redeem(app, &code, &verifier).await, 200).await["data"].clone();
    assert_eq!(data["token_type"], "Bearer", "{data}");
    data
}

pub async fn identities(app: &TestApp, token: &str) -> Vec<Value> {
    let response = bearer(app, Method::GET, "/identities", token)
        .send()
        .await
        .expect("sent");
    json_with_status(response, 200).await["data"]
        .as_array()
        .cloned()
        .expect("a list")
}

/// An account with a password, verified or not.
pub async fn account(app: &TestApp, email: &str, verified: bool) -> uuid::Uuid {
    let hash = app.auth.hasher.hash(PASSWORD).await.expect("hash");
    app.store
        .create_user(NewUser {
            email: email.into(),
            password_hash: hash,
            roles: vec!["user".into()],
            tenant: None,
            verified,
        })
        .await
        .expect("create the account")
        .id
}
