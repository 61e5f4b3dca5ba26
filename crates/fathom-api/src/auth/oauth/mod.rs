//! OAuth2 / OpenID Connect sign-in (docs/IDENTITY.md, "OAuth2 and OpenID Connect"): the
//! configured providers, and the routes of the authorization-code flow with PKCE that ends in
//! Fathom's own token pair, plus the caller's linked identities.
//!
//! The flow: the client opens `GET /oauth/{provider}/authorize` with its redirect URI (matched
//! exactly against the allow-list), `state` and S256 challenge; Fathom stores a flow (its own
//! state, nonce and PKCE verifier towards the provider) and redirects to the provider; the
//! provider redirects to `GET /oauth/{provider}/callback`, where Fathom verifies what it got,
//! finds, links or creates the account, and redirects to the client with a single-use `code`;
//! the client redeems it with its verifier at `POST /oauth/token`.

mod account;
mod flow;
mod identities;
mod provider;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::AppState;

/// How a provider is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect by issuer URL: discovery, JWKS, a verified `id_token`.
    Oidc { issuer: String },
    /// GitHub: OAuth2 without OIDC; the person comes from its user and email API.
    Github {
        authorize_url: String,
        token_url: String,
        api_url: String,
    },
}

/// One configured provider.
pub struct Provider {
    /// The name in the routes and in `[oauth.providers.<name>]`.
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    client_secret: String,
    pub scopes: Vec<String>,
    /// Discovery and keys, fetched on first use and kept a while (`provider.rs`).
    discovered: tokio::sync::Mutex<Option<provider::Discovered>>,
}

impl Provider {
    pub fn new(
        name: String,
        kind: ProviderKind,
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            name,
            kind,
            client_id,
            client_secret,
            scopes,
            discovered: tokio::sync::Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The OAuth slice of the auth settings. Without providers every OAuth route answers 404.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    pub providers: Vec<Arc<Provider>>,
    /// The client redirect URIs Fathom redirects to, compared character for character.
    pub redirect_uris: Vec<String>,
    /// Fathom's public base URL: the providers redirect to `<public_url>/api/v1/auth/oauth/<name>/callback`.
    pub public_url: String,
    /// How long a flow may wait for the provider's callback.
    pub flow_ttl: Duration,
    /// How long one of Fathom's authorization codes lives.
    pub code_ttl: Duration,
    client: Option<reqwest::Client>,
}

impl OAuthSettings {
    /// Settings with an HTTP client for the providers (rustls on ring, no redirects followed,
    /// bounded waits).
    pub fn new(
        providers: Vec<Provider>,
        redirect_uris: Vec<String>,
        public_url: String,
        flow_ttl: Duration,
        code_ttl: Duration,
    ) -> Result<Self, String> {
        fathom_webhooks::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("building the OAuth HTTP client: {e}"))?;
        Ok(Self {
            providers: providers.into_iter().map(Arc::new).collect(),
            redirect_uris,
            public_url: public_url.trim_end_matches('/').to_owned(),
            flow_ttl,
            code_ttl,
            client: Some(client),
        })
    }

    fn provider(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.name == name)
    }
}

/// The OAuth routes that sign in (rate-limited with the login family). Without providers there
/// are none, as the OpenAPI document says (`openapi/oauth.rs`).
pub(super) fn sign_in_routes(settings: &OAuthSettings) -> Router<AppState> {
    if settings.providers.is_empty() {
        return Router::new();
    }
    Router::new()
        .route("/oauth/{provider}/authorize", get(flow::authorize))
        .route("/oauth/{provider}/callback", get(flow::callback))
        .route("/oauth/{provider}/link", post(flow::link))
        .route("/oauth/token", post(flow::token))
}

/// The routes of the signed-in caller's identities, and the provider list (also only with
/// providers).
pub(super) fn identity_routes(settings: &OAuthSettings) -> Router<AppState> {
    if settings.providers.is_empty() {
        return Router::new();
    }
    Router::new()
        .route("/oauth/providers", get(identities::providers))
        .route("/identities", get(identities::list))
        .route("/identities/{id}", delete(identities::unlink))
}
