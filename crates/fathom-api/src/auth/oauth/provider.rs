//! Talking to the providers: OpenID Connect discovery and JWKS (cached), the exchange of the
//! provider's code with Fathom's PKCE verifier, `id_token` verification (signature with an
//! asymmetric algorithm, `iss`, `aud`, `exp`, `nonce`) and GitHub's user and email API.

use std::time::{Duration, Instant};

use fathom_core::ErrorCode;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::{Provider, ProviderKind};
use crate::error::ApiError;

/// How long discovery and keys are trusted before they are fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` fetches the keys again, but not more often than this (a flood of tokens
/// with made-up key ids must not turn into a flood of requests to the provider).
const KEY_REFRESH_MIN: Duration = Duration::from_secs(10);
/// The largest answer read from a provider.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Clock skew allowed on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: u64 = 60;
/// The algorithms an `id_token` may use: asymmetric only (no `none`, no HMAC with a public key).
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What discovery says about an OpenID Connect provider, with its keys.
#[derive(Debug, Clone)]
pub(crate) struct Discovered {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    jwks_uri: String,
    keys: JwkSet,
    fetched: Instant,
    keys_fetched: Instant,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

pub(crate) fn provider_failed(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        ErrorCode::OAuthProviderFailed,
        detail,
        "Try again later; if it persists, the operator should check the provider's configuration and the server log.",
    )
}

pub(crate) fn token_invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        ErrorCode::OAuthIdTokenInvalid,
        detail,
        "Start the sign-in again; an identity token that fails verification is never accepted.",
    )
}

/// GETs JSON from a provider, bounded in size.
async fn get_json(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> Result<Value, ApiError> {
    let mut request = client
        .get(url)
        .header("accept", "application/json")
        .header("user-agent", "fathom");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    read_json(request.send().await).await
}

/// Reads a provider's JSON answer; a failure is logged without the body (it may carry tokens).
async fn read_json(sent: Result<reqwest::Response, reqwest::Error>) -> Result<Value, ApiError> {
    let response = sent.map_err(|e| {
        tracing::warn!(cause = %e.without_url(), "an OAuth provider could not be reached");
        provider_failed("The sign-in provider could not be reached.")
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|_| provider_failed("The sign-in provider's answer was cut off."))?;
    if bytes.len() > MAX_ANSWER_BYTES {
        return Err(provider_failed(
            "The sign-in provider's answer is too large.",
        ));
    }
    if !status.is_success() {
        tracing::warn!(
            status = status.as_u16(),
            "an OAuth provider refused a request"
        );
        return Err(provider_failed(format!(
            "The sign-in provider refused the request (HTTP {}).",
            status.as_u16()
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| provider_failed("The sign-in provider's answer is not JSON."))
}

impl Provider {
    /// The provider's discovery document and keys, from the cache while fresh.
    pub(crate) async fn discover(&self, client: &reqwest::Client) -> Result<Discovered, ApiError> {
        let ProviderKind::Oidc { issuer } = &self.kind else {
            return Err(ApiError::internal("discovery of a provider without OIDC"));
        };
        let mut cached = self.discovered.lock().await;
        if let Some(found) = cached.as_ref()
            && found.fetched.elapsed() < DISCOVERY_TTL
        {
            return Ok(found.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document: Document = serde_json::from_value(get_json(client, &url, None).await?)
            .map_err(|_| provider_failed("The provider's discovery document is incomplete."))?;
        // OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer asked.
        if document.issuer != *issuer {
            return Err(provider_failed(
                "The provider's discovery document names another issuer.",
            ));
        }
        let keys = fetch_keys(client, &document.jwks_uri).await?;
        let now = Instant::now();
        let found = Discovered {
            authorization_endpoint: document.authorization_endpoint,
            token_endpoint: document.token_endpoint,
            jwks_uri: document.jwks_uri,
            keys,
            fetched: now,
            keys_fetched: now,
        };
        *cached = Some(found.clone());
        Ok(found)
    }

    /// The keys again, after a token named a key id they lack (the provider may have rotated).
    async fn refresh_keys(
        &self,
        client: &reqwest::Client,
        stale: &Discovered,
    ) -> Result<Option<JwkSet>, ApiError> {
        if stale.keys_fetched.elapsed() < KEY_REFRESH_MIN {
            return Ok(None);
        }
        let keys = fetch_keys(client, &stale.jwks_uri).await?;
        let mut cached = self.discovered.lock().await;
        if let Some(found) = cached.as_mut() {
            found.keys = keys.clone();
            found.keys_fetched = Instant::now();
        }
        Ok(Some(keys))
    }

    /// Exchanges the provider's authorization code (with Fathom's PKCE verifier) at
    /// `token_endpoint`; answers the provider's token response.
    pub(crate) async fn exchange(
        &self,
        client: &reqwest::Client,
        token_endpoint: &str,
        callback_uri: &str,
        code: &str,
        verifier: &str,
    ) -> Result<Value, ApiError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", callback_uri)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("code_verifier", verifier)
            .finish();
        let sent = client
            .post(token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("user-agent", "fathom")
            .body(body)
            .send()
            .await;
        read_json(sent).await
    }

    /// Verifies an `id_token` against the provider's keys, issuer, this client and `nonce`.
    pub(crate) async fn verify_id_token(
        &self,
        client: &reqwest::Client,
        discovered: &Discovered,
        token: &str,
        nonce: &str,
    ) -> Result<Profile, ApiError> {
        let ProviderKind::Oidc { issuer } = &self.kind else {
            return Err(ApiError::internal(
                "an id_token from a provider without OIDC",
            ));
        };
        // `alg: none` and unknown algorithms fail here: the header does not parse.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| token_invalid("The identity token's header is malformed or names an algorithm Fathom does not accept."))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(token_invalid(
                "The identity token is not signed with an asymmetric algorithm.",
            ));
        }
        let key = match find_key(&discovered.keys, header.kid.as_deref(), header.alg) {
            Some(key) => key,
            None => {
                let fresh = self.refresh_keys(client, discovered).await?;
                fresh
                    .and_then(|keys| find_key(&keys, header.kid.as_deref(), header.alg))
                    .ok_or_else(|| token_invalid("The identity token is signed with a key the provider does not publish."))?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let what = match e.kind() {
                ErrorKind::ExpiredSignature => "has expired",
                ErrorKind::InvalidIssuer => "comes from another issuer",
                ErrorKind::InvalidAudience => "was issued to another client",
                ErrorKind::InvalidSignature => "has a signature that does not verify",
                _ => "is not valid",
            };
            token_invalid(format!("The identity token {what}."))
        })?;
        let claims = data.claims;
        let sent_nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if !fathom_auth::constant_time_eq(sent_nonce.as_bytes(), nonce.as_bytes()) {
            return Err(token_invalid(
                "The identity token does not carry this sign-in's nonce (a replayed token).",
            ));
        }
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(|| token_invalid("The identity token has no usable subject."))?;
        // Some providers send `email_verified` as the string "true".
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        Ok(Profile {
            subject: subject.to_owned(),
            email: claims
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_lowercase),
            email_verified,
        })
    }

    /// GitHub (OAuth2 without OIDC): the user and its verified primary email from the API.
    pub(crate) async fn github_profile(
        &self,
        client: &reqwest::Client,
        api_url: &str,
        access_token: &str,
    ) -> Result<Profile, ApiError> {
        let base = api_url.trim_end_matches('/');
        let user = get_json(client, &format!("{base}/user"), Some(access_token)).await?;
        let subject = match user.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(provider_failed("GitHub's user answer has no id.")),
        };
        let emails = get_json(client, &format!("{base}/user/emails"), Some(access_token)).await?;
        let listed = emails.as_array().cloned().unwrap_or_default();
        let field = |e: &Value, name: &str| e.get(name).and_then(Value::as_bool).unwrap_or(false);
        // The primary address when verified; otherwise any verified one; otherwise the primary
        // one, unverified (which never links to an existing account).
        let chosen = listed
            .iter()
            .find(|e| field(e, "primary") && field(e, "verified"))
            .or_else(|| listed.iter().find(|e| field(e, "verified")))
            .or_else(|| listed.iter().find(|e| field(e, "primary")));
        Ok(Profile {
            subject,
            email: chosen
                .and_then(|e| e.get("email"))
                .and_then(Value::as_str)
                .map(str::to_lowercase),
            email_verified: chosen.is_some_and(|e| field(e, "verified")),
        })
    }
}

async fn fetch_keys(client: &reqwest::Client, url: &str) -> Result<JwkSet, ApiError> {
    serde_json::from_value(get_json(client, url, None).await?)
        .map_err(|_| provider_failed("The provider's key set is not a JWK set."))
}

/// The published key for `kid` (or the only fitting key when the token names none), as a
/// decoding key of the header's algorithm family. Symmetric keys are never used.
fn find_key(keys: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let family = |params: &AlgorithmParameters| match params {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => {
            matches!(alg, Algorithm::ES256 | Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        _ => false,
    };
    let mut fitting = keys.keys.iter().filter(|k| family(&k.algorithm));
    let jwk = match kid {
        Some(kid) => fitting.find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let first = fitting.next();
            // Without a key id, only an unambiguous key set is acceptable.
            first.filter(|_| fitting.next().is_none())
        }
    }?;
    DecodingKey::from_jwk(jwk).ok()
}
