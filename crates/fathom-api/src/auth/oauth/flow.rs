//! The authorization-code flow: `authorize` and `link` begin it, `callback` takes the
//! provider's answer, `token` redeems Fathom's own code for the token pair.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fathom_auth::{generate_token, hash_token};
use fathom_core::ErrorCode;
use fathom_store::{CodeClaim, OAuthCode, OAuthFlow};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::provider::{Profile, provider_failed, token_invalid};
use super::{OAuthSettings, Provider, ProviderKind};
use crate::AppState;
use crate::auth::caller::Caller;
use crate::auth::tokens::{audit, start_session, text_field, timestamp_after};
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

/// The longest client `state` kept (it travels in URLs).
const MAX_STATE_CHARS: usize = 512;

/// What the client asks for when it begins a flow.
struct ClientRequest {
    redirect_uri: String,
    state: String,
    code_challenge: String,
}

fn invalid_field(name: &str, detail: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationFailed,
        format!("The parameter `{name}` {detail}."),
        format!("Send `{name}` as the OAuth flow describes (docs/IDENTITY.md)."),
    )
    .with_field(name, "invalid", format!("`{name}` {detail}."))
}

fn pkce_required(detail: &str) -> ApiError {
    ApiError::new(
        ErrorCode::OAuthPkceRequired,
        detail.to_owned(),
        "Send code_challenge = BASE64URL(SHA-256(code_verifier)) with code_challenge_method=S256; `plain` is refused.",
    )
}

/// The S256 challenge of a PKCE verifier (RFC 7636, section 4.2).
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A verifier of RFC 7636's form: 43 to 128 unreserved characters.
fn verifier_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn provider_of<'a>(settings: &'a OAuthSettings, name: &str) -> Result<&'a Arc<Provider>, ApiError> {
    settings.provider(name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::OAuthProviderUnknown,
            format!("No OAuth provider named `{name}` is configured."),
            "List the configured providers at GET /api/v1/auth/oauth/providers.",
        )
    })
}

impl ClientRequest {
    /// Reads and checks the client's parameters (from the query or a JSON body).
    fn parse(
        settings: &OAuthSettings,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ApiError> {
        let redirect_uri = get("redirect_uri")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid_field("redirect_uri", "is required"))?;
        // Exact comparison: a prefix, another port or another subdomain is another URI.
        if !settings.redirect_uris.contains(&redirect_uri) {
            return Err(ApiError::new(
                ErrorCode::OAuthRedirectUriNotAllowed,
                "The redirect_uri is not one of this server's allowed redirect URIs.",
                "Send exactly one of the URIs listed in oauth.redirect_uris (compared character for character).",
            ));
        }
        let state = get("state")
            .filter(|s| !s.is_empty() && s.len() <= MAX_STATE_CHARS)
            .ok_or_else(|| invalid_field("state", "is required, at most 512 characters"))?;
        let Some(code_challenge) = get("code_challenge").filter(|s| !s.is_empty()) else {
            return Err(pkce_required("The request has no PKCE code_challenge."));
        };
        if get("code_challenge_method").as_deref() != Some("S256") {
            return Err(pkce_required(
                "The PKCE code_challenge_method is not S256 (a missing method means `plain`).",
            ));
        }
        let decoded = URL_SAFE_NO_PAD.decode(code_challenge.as_bytes());
        if !matches!(decoded, Ok(ref bytes) if bytes.len() == 32) {
            return Err(pkce_required(
                "The code_challenge is not a BASE64URL-encoded SHA-256 digest.",
            ));
        }
        Ok(Self {
            redirect_uri,
            state,
            code_challenge,
        })
    }
}

/// Stores a flow and answers the provider URL to send the browser to.
async fn begin(
    state: &AppState,
    provider: &Provider,
    request: ClientRequest,
    link_user_id: Option<Uuid>,
) -> Result<String, ApiError> {
    let settings = &state.auth.settings.oauth;
    let client = settings
        .client
        .as_ref()
        .ok_or_else(|| ApiError::internal("no OAuth client"))?;
    let endpoint = match &provider.kind {
        ProviderKind::Oidc { .. } => provider.discover(client).await?.authorization_endpoint,
        ProviderKind::Github { authorize_url, .. } => authorize_url.clone(),
    };
    let (ours, nonce, verifier) = (generate_token(), generate_token(), generate_token());
    let mut url = url::Url::parse(&endpoint)
        .map_err(|_| provider_failed("The provider's authorization endpoint is not a URL."))?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", &callback_uri(settings, provider))
            .append_pair("scope", &provider.scopes.join(" "))
            .append_pair("state", &ours)
            .append_pair("code_challenge", &s256(&verifier))
            .append_pair("code_challenge_method", "S256");
        if matches!(provider.kind, ProviderKind::Oidc { .. }) {
            query.append_pair("nonce", &nonce);
        }
    }
    state
        .store
        .create_oauth_flow(OAuthFlow {
            state_hash: hash_token(&ours),
            provider: provider.name.clone(),
            redirect_uri: request.redirect_uri,
            client_state: request.state,
            code_challenge: request.code_challenge,
            nonce,
            pkce_verifier: verifier,
            link_user_id,
            expires_at: timestamp_after(settings.flow_ttl),
        })
        .await?;
    Ok(url.into())
}

fn callback_uri(settings: &OAuthSettings, provider: &Provider) -> String {
    format!(
        "{}/api/v1/auth/oauth/{}/callback",
        settings.public_url, provider.name
    )
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, to.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// `GET /oauth/{provider}/authorize`: begins a sign-in; redirects to the provider.
pub async fn authorize(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let provider = provider_of(&state.auth.settings.oauth, &name)?.clone();
    let request = ClientRequest::parse(&state.auth.settings.oauth, |k| query.get(k).cloned())?;
    let to = begin(&state, &provider, request, None).await?;
    Ok(redirect(&to))
}

/// `POST /oauth/{provider}/link`: begins linking an identity to the signed-in account; answers
/// the provider URL to open (the browser carries no bearer token through the redirects).
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let provider = provider_of(&state.auth.settings.oauth, &name)?.clone();
    let request = ClientRequest::parse(&state.auth.settings.oauth, |k| {
        body.get(k).and_then(Value::as_str).map(str::to_owned)
    })?;
    let to = begin(&state, &provider, request, Some(caller.user_id)).await?;
    Ok(envelope(json!({ "authorize_url": to }), Map::new()).into_response())
}

fn state_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::OAuthStateInvalid,
        "This sign-in flow is unknown, expired or already finished.",
        "Start the sign-in again from GET /api/v1/auth/oauth/{provider}/authorize.",
    )
}

/// `GET /oauth/{provider}/callback`: the provider's answer. Verifies it, finds, links or
/// creates the account, and redirects to the client with Fathom's single-use code.
pub async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let settings = &state.auth.settings.oauth;
    let provider = provider_of(settings, &name)?.clone();
    let ours = query.get("state").ok_or_else(state_invalid)?;
    // Taking the flow spends it: a replayed state finds nothing.
    let flow = state
        .store
        .take_oauth_flow(hash_token(ours))
        .await?
        .filter(|f| f.provider == provider.name)
        .ok_or_else(state_invalid)?;
    let mut back = url::Url::parse(&flow.redirect_uri)
        .map_err(|_| ApiError::internal("an allowed redirect URI does not parse"))?;
    if let Some(error) = query.get("error") {
        // The person declined, or the provider refused: the client learns it the OAuth way.
        let error =
            if error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                error.as_str()
            } else {
                "access_denied"
            };
        back.query_pairs_mut()
            .append_pair("error", error)
            .append_pair("state", &flow.client_state);
        return Ok(redirect(back.as_str()));
    }
    let code = query
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid_field("code", "is required"))?;
    let profile = profile(&state, &provider, &flow, code).await?;
    let (user, link) =
        super::account::resolve(&state, &provider.name, &profile, flow.link_user_id).await?;
    let ours = generate_token();
    state
        .store
        .create_oauth_code(OAuthCode {
            hash: hash_token(&ours),
            user_id: user.id,
            redirect_uri: flow.redirect_uri.clone(),
            code_challenge: flow.code_challenge.clone(),
            expires_at: timestamp_after(settings.code_ttl),
            link,
        })
        .await?;
    back.query_pairs_mut()
        .append_pair("code", &ours)
        .append_pair("state", &flow.client_state);
    Ok(redirect(back.as_str()))
}

/// Exchanges the provider's code and learns who signed in.
async fn profile(
    state: &AppState,
    provider: &Provider,
    flow: &OAuthFlow,
    code: &str,
) -> Result<Profile, ApiError> {
    let settings = &state.auth.settings.oauth;
    let client = settings
        .client
        .as_ref()
        .ok_or_else(|| ApiError::internal("no OAuth client"))?;
    let callback = callback_uri(settings, provider);
    match &provider.kind {
        ProviderKind::Oidc { .. } => {
            let discovered = provider.discover(client).await?;
            let answer = provider
                .exchange(
                    client,
                    &discovered.token_endpoint,
                    &callback,
                    code,
                    &flow.pkce_verifier,
                )
                .await?;
            let id_token = answer
                .get("id_token")
                .and_then(Value::as_str)
                .ok_or_else(|| token_invalid("The provider answered no identity token."))?;
            provider
                .verify_id_token(client, &discovered, id_token, &flow.nonce)
                .await
        }
        ProviderKind::Github {
            token_url, api_url, ..
        } => {
            let answer = provider
                .exchange(client, token_url, &callback, code, &flow.pkce_verifier)
                .await?;
            // GitHub answers 200 with an `error` field when it refuses a code.
            let access = answer
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(|| provider_failed("GitHub refused the authorization code."))?;
            provider.github_profile(client, api_url, access).await
        }
    }
}

fn code_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::OAuthCodeInvalid,
        "The authorization code is unknown, expired, already used, or does not match this verifier and redirect URI.",
        "Start the sign-in again; a code is redeemed once, with the code_verifier and redirect_uri of its flow.",
    )
}

/// `POST /oauth/token {code, code_verifier, redirect_uri}`: Fathom's token pair for a code.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let code = text_field(&body, "code")?;
    let verifier = text_field(&body, "code_verifier")?;
    let redirect_uri = text_field(&body, "redirect_uri")?;
    if !verifier_well_formed(&verifier) {
        return Err(invalid_field(
            "code_verifier",
            "must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }
    let hash = hash_token(&code);
    let claim = state
        .store
        .claim_oauth_code(hash.clone(), s256(&verifier), redirect_uri)
        .await?;
    let (user_id, link) = match claim {
        CodeClaim::Claimed { user_id, link } => (user_id, link),
        CodeClaim::Reused {
            user_id,
            session_id,
        } => {
            if let Some(session_id) = session_id {
                state.auth.sessions.forget(session_id);
            }
            audit(
                &state,
                "oauth_code_reuse",
                "denied",
                Some(user_id.to_string()),
                session_id.map(|s| format!("session {s} revoked")),
            )
            .await;
            return Err(code_invalid());
        }
        CodeClaim::Mismatch | CodeClaim::Invalid => return Err(code_invalid()),
    };
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(code_invalid)?;
    if let Some(identity) = link {
        // Linked only now: the verifier proves this redeemer began the link flow.
        super::account::link(&state, user.id, identity, "explicit").await?;
    }
    // The provider vouched for one factor; an account with TOTP on still proves its second
    // here, as after a password (the code is spent either way).
    if let Some(challenge) = crate::auth::totp::challenge_if_enabled(&state, &user).await? {
        return Ok(challenge);
    }
    let (session, data) = start_session(&state, &headers, &user).await?;
    if state.store.attach_oauth_session(hash, session.id).await? {
        // The code came back while this redemption was under way: neither gets a session.
        state
            .store
            .revoke_session(user.id, session.id, "oauth_code_reuse")
            .await?;
        state.auth.sessions.forget(session.id);
        return Err(code_invalid());
    }
    audit(
        &state,
        "login",
        "success",
        Some(user.id.to_string()),
        Some("oauth".into()),
    )
    .await;
    Ok(envelope(data, Map::new()).into_response())
}
