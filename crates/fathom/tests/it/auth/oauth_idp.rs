//! A real OpenID Connect provider of the tests' own, on port 0: discovery, JWKS, an authorize
//! endpoint that consents at once (answering the person the test chose), a token endpoint that
//! checks the client secret and the PKCE verifier and signs `id_token`s with its own Ed25519
//! key, and GitHub-shaped token, user and email endpoints. A test may make it misbehave (forge,
//! expire, mis-address or strip the signature of the next `id_token`) to attack Fathom.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fathom_auth::SigningKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "fathom-test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// Who the provider says signs in next.
#[derive(Debug, Clone)]
pub struct Person {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

impl Person {
    pub fn new(subject: &str, email: &str, email_verified: bool) -> Self {
        Self {
            subject: subject.into(),
            email: Some(email.into()),
            email_verified,
        }
    }
}

/// How the next `id_token` is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    None,
    /// Signed with a key the provider does not publish (under the published key id).
    Forged,
    /// `exp` an hour ago.
    Expired,
    WrongAudience,
    WrongIssuer,
    /// `alg: none`, no signature.
    Unsigned,
    /// Another nonce than the one Fathom sent.
    WrongNonce,
}

struct Grant {
    person: Person,
    nonce: Option<String>,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    issuer: String,
    key: SigningKey,
    other_key: SigningKey,
    next: Mutex<Person>,
    tamper: Mutex<Tamper>,
    grants: Mutex<HashMap<String, Grant>>,
    /// GitHub access tokens and the person each stands for.
    github_tokens: Mutex<HashMap<String, Person>>,
    /// The GitHub email list answered (for the next person), as GitHub shapes it.
    github_emails: Mutex<Option<Value>>,
}

/// The running provider.
#[derive(Clone)]
pub struct TestIdp {
    inner: Arc<Inner>,
}

impl TestIdp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the provider");
        let address = listener.local_addr().expect("address");
        let inner = Arc::new(Inner {
            issuer: format!("http://{address}"),
            key: SigningKey::generate(0),
            other_key: SigningKey::generate(0),
            next: Mutex::new(Person::new("subject-1", "someone@example.com", true)),
            tamper: Mutex::new(Tamper::None),
            grants: Mutex::new(HashMap::new()),
            github_tokens: Mutex::new(HashMap::new()),
            github_emails: Mutex::new(None),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/github/token", post(github_token))
            .route("/github/api/user", get(github_user))
            .route("/github/api/user/emails", get(github_emails))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { inner }
    }

    pub fn issuer(&self) -> String {
        self.inner.issuer.clone()
    }

    /// The person the next authorization answers.
    pub fn answer(&self, person: Person) {
        *self.inner.next.lock().expect("lock") = person;
        *self.inner.github_emails.lock().expect("lock") = None;
    }

    /// GitHub's email list for the next person (otherwise derived from the person).
    pub fn github_emails(&self, emails: Value) {
        *self.inner.github_emails.lock().expect("lock") = Some(emails);
    }

    pub fn tamper(&self, tamper: Tamper) {
        *self.inner.tamper.lock().expect("lock") = tamper;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

async fn discovery(State(idp): State<Arc<Inner>>) -> Response {
    let issuer = &idp.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

async fn jwks(State(idp): State<Arc<Inner>>) -> Response {
    axum::Json(json!({ "keys": [{
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
        "kid": idp.key.kid,
        "x": URL_SAFE_NO_PAD.encode(idp.key.public_key),
    }]}))
    .into_response()
}

/// Consents at once: records the grant and redirects back with a code.
async fn authorize(
    State(idp): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("code_challenge_method") != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let code = format!("idp-code-{}", uuid::Uuid::now_v7());
    let person = idp.next.lock().expect("lock").clone();
    idp.grants.lock().expect("lock").insert(
        code.clone(),
        Grant {
            person,
            nonce: query.get("nonce").cloned(),
            challenge: field("code_challenge"),
            redirect_uri: field("redirect_uri"),
        },
    );
    let mut back = url::Url::parse(&field("redirect_uri")).expect("redirect_uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// The refusal of a token request, shaped as OAuth2 says.
fn refusal(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": "invalid_grant", "error_description": why})),
    )
        .into_response()
}

/// Checks a token request (client, code, redirect URI, PKCE verifier) and takes its grant.
fn redeem(idp: &Inner, body: &str) -> Result<Grant, &'static str> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return Err("client authentication failed");
    }
    let Some(grant) = idp.grants.lock().expect("lock").remove(&field("code")) else {
        return Err("unknown code");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.challenge || field("redirect_uri") != grant.redirect_uri {
        return Err("PKCE or redirect_uri mismatch");
    }
    Ok(grant)
}

async fn token(State(idp): State<Arc<Inner>>, body: String) -> Response {
    let grant = match redeem(&idp, &body) {
        Ok(grant) => grant,
        Err(why) => return refusal(why),
    };
    let tamper = *idp.tamper.lock().expect("lock");
    let now = now();
    let mut claims = json!({
        "iss": idp.issuer,
        "sub": grant.person.subject,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": grant.nonce,
        "email_verified": grant.person.email_verified,
    });
    if let Some(email) = &grant.person.email {
        claims["email"] = json!(email);
    }
    match tamper {
        Tamper::Expired => {
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
        }
        Tamper::WrongAudience => claims["aud"] = json!("another-client"),
        Tamper::WrongIssuer => claims["iss"] = json!("https://impostor.example.com"),
        Tamper::WrongNonce => claims["nonce"] = json!("a-nonce-fathom-never-sent"),
        _ => {}
    }
    let id_token = match tamper {
        Tamper::Unsigned => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
            let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
            format!("{header}.{payload}.")
        }
        _ => {
            let signer = if tamper == Tamper::Forged {
                &idp.other_key
            } else {
                &idp.key
            };
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
            header.kid = Some(idp.key.kid.clone());
            let key = jsonwebtoken::EncodingKey::from_ed_der(&signer.private_pkcs8_der);
            jsonwebtoken::encode(&header, &claims, &key).expect("sign the id_token")
        }
    };
    axum::Json(json!({
        "access_token": format!("idp-access-{}", uuid::Uuid::now_v7()),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn github_token(State(idp): State<Arc<Inner>>, body: String) -> Response {
    let grant = match redeem(&idp, &body) {
        Ok(grant) => grant,
        // GitHub answers 200 with an `error` field.
        Err(_) => return axum::Json(json!({"error": "bad_verification_code"})).into_response(),
    };
    let access = format!("gho_{}", uuid::Uuid::now_v7().simple());
    idp.github_tokens
        .lock()
        .expect("lock")
        .insert(access.clone(), grant.person);
    axum::Json(
        json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"}),
    )
    .into_response()
}

fn github_person(idp: &Inner, headers: &HeaderMap) -> Option<Person> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    idp.github_tokens.lock().expect("lock").get(token).cloned()
}

async fn github_user(State(idp): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let Some(person) = github_person(&idp, &headers) else {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    };
    let id: u64 = person.subject.parse().unwrap_or(1);
    axum::Json(json!({"id": id, "login": format!("user{id}"), "email": null})).into_response()
}

async fn github_emails(State(idp): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let Some(person) = github_person(&idp, &headers) else {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    };
    if let Some(emails) = idp.github_emails.lock().expect("lock").clone() {
        return axum::Json(emails).into_response();
    }
    axum::Json(json!([{
        "email": person.email,
        "primary": true,
        "verified": person.email_verified,
        "visibility": "private",
    }]))
    .into_response()
}
