//! OAuth2 / OpenID Connect sign-in (`/api/v1/auth/oauth/...`, `/api/v1/auth/identities`): the
//! path items and schemas, mirroring `crate::auth::oauth`.

use serde_json::{Map, Value, json};

use super::auth::{
    AUTH_TAG, BODY_ERRORS, RATE_LIMITED, SERVER_ERRORS, bearer, body, id_parameter, list_envelope,
    no_content, nullable_text, object, rate_limited, request, statuses, text, timestamp,
};
use super::operations::{ok, request_id_header, responses, single_envelope};
use super::schemas::schema_ref;

fn provider_parameter() -> Value {
    json!({
        "name": "provider", "in": "path", "required": true,
        "description": "The provider's name in `[oauth.providers]` (see `GET /api/v1/auth/oauth/providers`).",
        "schema": { "type": "string", "pattern": "^[a-z0-9_-]{1,32}$" },
    })
}

fn query(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema })
}

/// A 302 to `where_to`.
fn found(description: &str) -> Value {
    let mut headers = request_id_header();
    if let Some(map) = headers.as_object_mut() {
        map.insert(
            "Location".into(),
            json!({ "description": "Where the browser goes next.", "required": true, "schema": { "type": "string" } }),
        );
    }
    json!({ "description": description, "headers": headers })
}

/// What the client sends to begin a flow (query of `authorize`, body of `link`).
fn client_parameters() -> [(&'static str, &'static str, Value); 4] {
    [
        (
            "redirect_uri",
            "One of `oauth.redirect_uris`, character for character; else 400 `oauth_redirect_uri_not_allowed`.",
            json!({ "type": "string", "minLength": 1 }),
        ),
        (
            "state",
            "The client's own state, handed back with the code.",
            json!({ "type": "string", "minLength": 1, "maxLength": 512 }),
        ),
        (
            "code_challenge",
            "BASE64URL(SHA-256(code_verifier)): 43 characters. Missing: 400 `oauth_pkce_required`.",
            json!({ "type": "string", "minLength": 43, "maxLength": 43 }),
        ),
        (
            "code_challenge_method",
            "`S256` only; `plain` or none: 400 `oauth_pkce_required`.",
            json!({ "type": "string", "enum": ["S256"] }),
        ),
    ]
}

/// Adds the OAuth paths and schemas to a built document (a server with providers).
pub fn describe(document: &mut Value) {
    if let Some(paths) = document["paths"].as_object_mut() {
        paths.extend(self::paths());
    }
    if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
        schemas.extend(self::schemas());
    }
}

/// The path items.
fn paths() -> Vec<(String, Value)> {
    let path = |p: &str| format!("/api/v1/auth{p}");
    let mut authorize_parameters = vec![provider_parameter()];
    authorize_parameters.extend(
        client_parameters()
            .into_iter()
            .map(|(name, about, schema)| query(name, about, schema, true)),
    );
    vec![
        (
            path("/oauth/providers"),
            json!({ "get": {
                "tags": [AUTH_TAG],
                "operationId": "authOAuthProviders",
                "summary": "The configured sign-in providers",
                "description": "The providers a sign-in page may offer (`[oauth.providers]`).",
                "responses": responses(
                    &[("200", ok("The providers.", list_envelope("OAuthProvider", schema_ref("Meta"))))],
                    &SERVER_ERRORS,
                ),
            }}),
        ),
        (
            path("/oauth/{provider}/authorize"),
            json!({ "get": {
                "tags": [AUTH_TAG],
                "operationId": "authOAuthAuthorize",
                "summary": "Begin a sign-in with a provider",
                "description": format!("Opened by the browser. Stores the flow (Fathom's own state, nonce and PKCE verifier towards the provider) and redirects to the provider. 404 `oauth_provider_unknown`; 400 `oauth_redirect_uri_not_allowed`, `oauth_pkce_required`, `validation_failed`; 502 `oauth_provider_failed` when discovery fails.{RATE_LIMITED}"),
                "parameters": authorize_parameters,
                "responses": rate_limited(
                    &[("302", found("To the provider's authorization endpoint."))],
                    &statuses(&[&[400, 404, 502], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/oauth/{provider}/callback"),
            json!({ "get": {
                "tags": [AUTH_TAG],
                "operationId": "authOAuthCallback",
                "summary": "The provider's redirect back",
                "description": format!("Takes the flow named by `state` (once: a replayed or unknown state is 400 `oauth_state_invalid`), exchanges the provider's code, verifies the `id_token` (signature, algorithm, `iss`, `aud`, `exp`, `nonce`: else 401 `oauth_id_token_invalid`) or reads GitHub's user and emails, finds, links or creates the account, and redirects to the client's redirect URI with `code` (single use, short-lived) and the client's `state`. A provider `error` is passed on as `error` with the client's `state`. 409 `oauth_account_exists` when the email belongs to an account and is not verified on both sides; 409 `oauth_identity_taken` when a link flow meets an identity of another account; 400 `oauth_email_unavailable`; 401 `invalid_credentials` for a disabled account; 403 `email_not_verified`, or `forbidden` when registration is closed; 502 `oauth_provider_failed`.{RATE_LIMITED}"),
                "parameters": [
                    provider_parameter(),
                    query("state", "Fathom's state, as sent to the provider.", json!({ "type": "string" }), false),
                    query("code", "The provider's authorization code.", json!({ "type": "string" }), false),
                    query("error", "The provider's error, when the person declined.", json!({ "type": "string" }), false),
                ],
                "responses": rate_limited(
                    &[("302", found("To the client's redirect URI with `code` and `state` (or `error` and `state`)."))],
                    &statuses(&[&[400, 401, 403, 404, 409, 502], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/oauth/{provider}/link"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authOAuthLink",
                "summary": "Begin linking a provider identity to my account",
                "description": format!("Like `authorize`, for the signed-in caller: answers the provider URL to open. The callback links the identity to the caller's account (409 `oauth_identity_taken` when another account has it) and ends like a sign-in, with a code for `POST /oauth/token`.{RATE_LIMITED}"),
                "security": bearer(),
                "parameters": [provider_parameter()],
                "requestBody": body("OAuthLinkRequest"),
                "responses": rate_limited(
                    &[("200", ok("The provider URL to open.", single_envelope("OAuthLinkStarted")))],
                    &statuses(&[&BODY_ERRORS, &[401, 404, 502], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/oauth/token"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authOAuthToken",
                "summary": "Redeem Fathom's authorization code",
                "description": format!("Answers the token pair for a code from the callback, with the PKCE verifier and redirect URI of its flow. A code is redeemed once: an unknown, expired, already used or mismatched code is 400 `oauth_code_invalid` (a wrong verifier spends the code), and a second redemption also revokes the session the first one started. An account with TOTP on answers 202 with a short-lived `challenge` instead of tokens: finish at `/login/second-factor`.{RATE_LIMITED}"),
                "requestBody": body("OAuthTokenRequest"),
                "responses": rate_limited(
                    &[
                        ("200", ok("Signed in: the token pair.", single_envelope("TokenPair"))),
                        ("202", ok(
                            "The account has TOTP on: the challenge to answer at `/login/second-factor`.",
                            single_envelope("SecondFactorChallenge"),
                        )),
                    ],
                    &statuses(&[&BODY_ERRORS, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/identities"),
            json!({ "get": {
                "tags": [AUTH_TAG],
                "operationId": "authListIdentities",
                "summary": "List my linked identities",
                "security": bearer(),
                "responses": responses(
                    &[("200", ok("The linked identities, oldest first.", list_envelope("OAuthIdentity", schema_ref("Meta"))))],
                    &statuses(&[&[401], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/identities/{id}"),
            json!({ "delete": {
                "tags": [AUTH_TAG],
                "operationId": "authUnlinkIdentity",
                "summary": "Unlink one of my identities",
                "description": "404 `oauth_identity_not_found` when the caller has no identity with this id; 409 `last_sign_in_method` when it is the account's last way to sign in.",
                "security": bearer(),
                "parameters": [id_parameter("The identity's id, from `GET /api/v1/auth/identities`.")],
                "responses": responses(
                    &[("204", no_content("Unlinked; no body."))],
                    &statuses(&[&[401, 404, 409], &SERVER_ERRORS]),
                ),
            }}),
        ),
    ]
}

/// The component schemas.
fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    let mut provider = Map::new();
    provider.insert(
        "name".into(),
        text("The provider's name, as in the routes."),
    );
    provider.insert(
        "kind".into(),
        json!({ "type": "string", "enum": ["oidc", "github"], "description": "OpenID Connect (also Google), or GitHub." }),
    );
    out.insert(
        "OAuthProvider".into(),
        object("A sign-in provider", provider),
    );
    let mut identity = Map::new();
    identity.insert("id".into(), json!({ "type": "string", "format": "uuid" }));
    identity.insert("provider".into(), text("The provider's name."));
    identity.insert("subject".into(), text("The provider's id of the person."));
    identity.insert(
        "email".into(),
        nullable_text("The email the provider reported when the identity was linked."),
    );
    identity.insert("created_at".into(), timestamp("When it was linked (UTC)."));
    out.insert(
        "OAuthIdentity".into(),
        object("A linked identity", identity),
    );
    let client: Vec<(&str, Value)> = client_parameters()
        .into_iter()
        .map(|(name, about, mut schema)| {
            schema["description"] = json!(about);
            (name, schema)
        })
        .collect();
    out.insert(
        "OAuthLinkRequest".into(),
        request("Begin linking an identity", &client, &[]),
    );
    let mut started = Map::new();
    started.insert(
        "authorize_url".into(),
        text("The provider URL for the browser to open."),
    );
    out.insert(
        "OAuthLinkStarted".into(),
        object("A link flow begun", started),
    );
    out.insert(
        "OAuthTokenRequest".into(),
        request(
            "Redeem an authorization code",
            &[
                ("code", text("The code from the redirect.")),
                (
                    "code_verifier",
                    json!({ "type": "string", "minLength": 43, "maxLength": 128, "pattern": "^[A-Za-z0-9._~-]+$", "description": "The PKCE verifier whose S256 challenge began the flow." }),
                ),
                ("redirect_uri", text("The redirect URI of the flow.")),
            ],
            &[],
        ),
    );
    out
}
