//! Authentication (`/api/v1/auth`): its path items, the `bearerAuth` security scheme, and the
//! headers of the per-client rate limit (the schemas it and administration use are in
//! `auth_schemas`). Unlike the records API these shapes are mostly fixed; they mirror the
//! handlers in `crate::auth` and `crate::admin`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

pub(super) use super::auth_schemas::{
    nullable_text, object, policy_note, profile_changes, request, schemas, text, timestamp,
};
use super::document::{component_ref, problem_response};
use super::operations::{json_content, ok, request_id_header, responses, single_envelope};
use super::schemas::{EXAMPLE_ID, schema_ref};
use crate::admin::ADMIN_ROLE;

/// The name of the security scheme: an access token as `Authorization: Bearer <token>`.
pub const BEARER_AUTH: &str = "bearerAuth";
/// The tag of `/api/v1/auth`.
pub const AUTH_TAG: &str = "auth";
/// The tag of `/api/v1/admin`.
pub const ADMIN_TAG: &str = "admin";

/// Page size bounds of `GET /api/v1/admin/users` (as `crate::admin::users` enforces them).
pub(super) const USERS_DEFAULT_LIMIT: u32 = 50;
pub(super) const USERS_MAX_LIMIT: u32 = 200;
/// Page size bounds of `GET /api/v1/admin/audit` (as `crate::admin::audit` enforces them).
pub(super) const AUDIT_DEFAULT_LIMIT: u32 = 100;
pub(super) const AUDIT_MAX_LIMIT: u32 = 1000;
/// What `PATCH /api/v1/admin/users/{id}` accepts (as `crate::admin::users` enforces it).
pub(super) const ROLE_PATTERN: &str = "^[a-z0-9_-]{1,32}$";
pub(super) const MAX_ROLES: usize = 16;
pub(super) const MAX_TENANT_BYTES: usize = 128;

/// A password that passes the default policy, for examples.
pub(super) const EXAMPLE_PASSWORD: &str = "a long and unusual passphrase";
pub(super) const EXAMPLE_EMAIL: &str = "ada@example.com";

/// The headers every answer of a rate-limited operation carries: `(header, component)`.
pub(super) const RATE_LIMIT_HEADERS: [(&str, &str); 2] = [
    ("RateLimit-Policy", "RateLimitPolicy"),
    ("RateLimit", "RateLimit"),
];

/// `components.securitySchemes`.
pub fn security_schemes() -> Value {
    json!({
        BEARER_AUTH: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from `POST /api/v1/auth/login` (or `/refresh`), sent as \
                `Authorization: Bearer <access_token>`. It is an EdDSA-signed JWT that lasts \
                `expires_in` seconds; its keys are at `/api/v1/auth/jwks.json`.",
        },
    })
}

/// The `security` of an operation that needs an access token.
pub(super) fn bearer() -> Value {
    json!([{ BEARER_AUTH: [] }])
}

/// The headers only these operations use, for `components.headers`.
pub fn header_components() -> Map<String, Value> {
    let integer = |description: &str, minimum: u32| {
        json!({
            "description": description,
            "required": true,
            "schema": { "type": "integer", "minimum": minimum },
        })
    };
    let mut out = Map::new();
    out.insert(
        "RateLimitPolicy".into(),
        json!({
            "description": "The quota policy that counted this request, a structured field of draft-ietf-httpapi-ratelimit-headers: the policy's name (an auth route family's, such as `auth_login`, or the data API's `<table>.<class>`, such as `anonymous.read`, `default.write`, `roles.editor.read`, `api_keys.read`), `q` (requests the caller may make in the window: per client address, user or API key; `[rate_limits]`, `auth.rate_limits.*`) and `w` (the window in seconds).",
            "required": true,
            "schema": { "type": "string" },
            "example": "\"auth_login\";q=20;w=60",
        }),
    );
    out.insert(
        "RateLimit".into(),
        json!({
            "description": "What is left of that policy's quota: the policy's name, `r` (requests remaining) and `t` (seconds until the whole quota is available again).",
            "required": true,
            "schema": { "type": "string" },
            "example": "\"auth_login\";r=19;t=3",
        }),
    );
    // A limit that is off (0, `"off"`, `rate_limits.enabled = false`) sends none of them.
    for (_, component) in RATE_LIMIT_HEADERS {
        if let Some(Value::Object(header)) = out.get_mut(component) {
            header.insert("required".into(), Value::Bool(false));
            if let Some(Value::String(description)) = header.get_mut("description") {
                description.push_str(" Absent when the limit is switched off.");
            }
        }
    }
    out.insert(
        "RetryAfter".into(),
        integer("Seconds to wait before trying again.", 1),
    );
    out.insert(
        "WWWAuthenticate".into(),
        json!({
            "description": "`Bearer realm=\"fathom\"` when the access token is missing or not valid \
                (`unauthorized`); absent on `invalid_credentials`.",
            "schema": { "type": "string" },
        }),
    );
    out
}

/// Adds `headers` to a response object's `headers`.
fn add_headers(response: &mut Value, headers: &[(String, Value)]) {
    if let Some(object) = response.as_object_mut()
        && let Some(map) = object
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut()
    {
        map.extend(headers.iter().cloned());
    }
}

/// The responses of an operation behind the per-client rate limit: every answer carries the
/// `RateLimit-*` headers, and a 429 with `Retry-After` joins the error statuses. The problem
/// responses are written out rather than referenced because a `$ref` cannot add headers.
pub(super) fn rate_limited(success: &[(&str, Value)], error_statuses: &[u16]) -> Value {
    let limit_headers: Vec<(String, Value)> = RATE_LIMIT_HEADERS
        .iter()
        .map(|(name, component)| ((*name).to_owned(), component_ref("headers", component)))
        .collect();
    let mut out = Map::new();
    for (status, response) in success {
        let mut response = response.clone();
        add_headers(&mut response, &limit_headers);
        out.insert((*status).to_owned(), response);
    }
    let statuses: BTreeSet<u16> = error_statuses.iter().copied().chain([429]).collect();
    for status in statuses {
        let mut response = problem_response(status);
        add_headers(&mut response, &limit_headers);
        if status == 429 {
            add_headers(
                &mut response,
                &[(
                    "Retry-After".to_owned(),
                    component_ref("headers", "RetryAfter"),
                )],
            );
        }
        out.insert(status.to_string(), response);
    }
    Value::Object(out)
}

/// A sentence every rate-limited operation's description ends with.
pub(super) const RATE_LIMITED: &str = " Rate limited per client address: every answer carries the `RateLimit-Policy` \
and `RateLimit` fields, and past the limit the answer is 429 `too_many_requests` with `Retry-After`.";

/// A 2xx response without a body.
pub(super) fn no_content(description: &str) -> Value {
    json!({ "description": description, "headers": request_id_header() })
}

/// A 202 with the uniform `accepted` body.
fn accepted(description: &str) -> Value {
    ok(description, schema_ref("Accepted"))
}

pub(super) fn body(schema: &str) -> Value {
    json!({ "required": true, "content": json_content(schema_ref(schema)) })
}

/// An envelope holding a list of `item` with this `meta`.
pub(super) fn list_envelope(item: &str, meta: Value) -> Value {
    json!({
        "type": "object",
        "required": ["data", "meta"],
        "properties": {
            "data": { "type": "array", "items": schema_ref(item) },
            "meta": meta,
        },
    })
}

pub(super) fn id_parameter(description: &str) -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": description,
        "schema": { "type": "string", "format": "uuid" },
        "example": EXAMPLE_ID,
    })
}

pub(super) fn limit_parameter(description: &str, default: u32, maximum: u32) -> Value {
    json!({
        "name": "limit", "in": "query", "required": false,
        "description": description,
        "schema": { "type": "integer", "minimum": 1, "maximum": maximum, "default": default },
    })
}

/// Statuses of an operation whose body is a JSON object (`JsonObject`).
pub(super) const BODY_ERRORS: [u16; 3] = [400, 413, 415];
/// Statuses of anything that reaches the database or may time out.
pub(super) const SERVER_ERRORS: [u16; 2] = [500, 503];

pub(super) fn statuses(groups: &[&[u16]]) -> Vec<u16> {
    let set: BTreeSet<u16> = groups.iter().flat_map(|g| g.iter().copied()).collect();
    set.into_iter().collect()
}

/// The path items under `/api/v1/auth`.
pub fn auth_paths() -> Vec<(String, Value)> {
    let path = |p: &str| format!("/api/v1/auth{p}");
    let pair = || ok("Signed in: the token pair.", single_envelope("TokenPair"));
    vec![
        (
            path("/register"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authRegister",
                "summary": "Register an account",
                "description": format!(
                    "Creates an unverified account with the role `user` and mails a verification \
                     token (see `/verify`). The answer is the same 202 whether or not the address is \
                     already registered (its owner is told by mail instead), so it reveals nothing \
                     about which accounts exist. 403 `forbidden` when registration is closed \
                     (`auth.allow_registration`). {}{RATE_LIMITED}",
                    policy_note("password"),
                ),
                "requestBody": body("RegisterRequest"),
                "responses": rate_limited(
                    &[("202", accepted("Taken on: if the address can be registered, a verification email is on its way."))],
                    &statuses(&[&BODY_ERRORS, &[403], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/verify"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authVerifyEmail",
                "summary": "Confirm an email address",
                "description": format!(
                    "Confirms the address with the token mailed at registration. A token works once \
                     and expires; an unknown, used or expired one is a 400 whose `errors` entry has \
                     the code `invalid_token`.{RATE_LIMITED}"
                ),
                "requestBody": body("VerifyRequest"),
                "responses": rate_limited(
                    &[("204", no_content("Confirmed; no body."))],
                    &statuses(&[&BODY_ERRORS, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/login"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authLogin",
                "summary": "Sign in",
                "description": format!(
                    "Starts a session: a short-lived access token (send it as `Authorization: Bearer \
                     <access_token>`), a refresh token for `/refresh`, and the user. Every failure \
                     (unknown address, wrong password, disabled account, or an address refused \
                     for this account after `auth.lockout_threshold` failures from it) is the same \
                     401 `invalid_credentials`. 403 `email_not_verified` answers the right password \
                     of an unverified account when `auth.require_verified_email` is on; 429 when \
                     the client address is over its share of password hashing.{RATE_LIMITED}"
                ),
                "requestBody": body("LoginRequest"),
                "responses": rate_limited(
                    &[("200", pair())],
                    &statuses(&[&BODY_ERRORS, &[401, 403], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/refresh"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authRefresh",
                "summary": "Renew the access token",
                "description": format!(
                    "Trades a refresh token for a new pair. Refresh tokens rotate: the one sent stops \
                     working. Sending one that was already used ends its whole session (it was \
                     probably stolen). A refresh token that is not valid is a 401 `unauthorized`.{RATE_LIMITED}"
                ),
                "requestBody": body("RefreshRequest"),
                "responses": rate_limited(
                    &[("200", ok("The next token pair of the session.", single_envelope("TokenPair")))],
                    &statuses(&[&BODY_ERRORS, &[401], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/logout"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authLogout",
                "summary": "Sign out",
                "description": "Ends the session of the access token: its refresh token stops working.",
                "security": bearer(),
                "responses": responses(
                    &[("204", no_content("Signed out; no body."))],
                    &statuses(&[&[401], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/me"),
            json!({
                "get": {
                    "tags": [AUTH_TAG],
                    "operationId": "authMe",
                    "summary": "The signed-in user",
                    "security": bearer(),
                    "responses": responses(
                        &[("200", ok("The user of the access token.", single_envelope("User")))],
                        &statuses(&[&[401], &SERVER_ERRORS]),
                    ),
                },
                "patch": {
                    "tags": [AUTH_TAG],
                    "operationId": "authUpdateMe",
                    "summary": "Change your profile",
                    "description": "Sets the profile fields the schema declares under `[users]`, validated like record fields; `null` clears one. Any other field (email, roles, tenant, verified) is refused with 400.",
                    "security": bearer(),
                    "requestBody": body("ProfileChanges"),
                    "responses": responses(
                        &[("200", ok("The user, changed.", single_envelope("User")))],
                        &statuses(&[&BODY_ERRORS, &[401], &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            path("/password"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authChangePassword",
                "summary": "Change the password",
                "description": format!(
                    "Needs the current password (a wrong one is a 401 `invalid_credentials`). Every \
                     other session of the user ends; this one continues. {}{RATE_LIMITED}",
                    policy_note("new_password"),
                ),
                "security": bearer(),
                "requestBody": body("PasswordChangeRequest"),
                "responses": rate_limited(
                    &[("204", no_content("Changed; no body."))],
                    &statuses(&[&BODY_ERRORS, &[401], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/password-reset"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authRequestPasswordReset",
                "summary": "Request a password reset",
                "description": format!(
                    "Mails a single-use reset token if an account uses the address. The answer is the \
                     same 202 either way.{RATE_LIMITED}"
                ),
                "requestBody": body("PasswordResetRequest"),
                "responses": rate_limited(
                    &[("202", accepted("Taken on: if an account uses this address, a reset email is on its way."))],
                    &statuses(&[&BODY_ERRORS, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/password-reset/confirm"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authConfirmPasswordReset",
                "summary": "Set a new password with a reset token",
                "description": format!(
                    "Sets the password, ends every session of the user and lifts a lockout. The \
                     password is checked before the token is spent, so a refused password does not \
                     burn it. An unknown, used or expired token is a 400 whose `errors` entry has \
                     the code `invalid_token`. {}{RATE_LIMITED}",
                    policy_note("new_password"),
                ),
                "requestBody": body("PasswordResetConfirmRequest"),
                "responses": rate_limited(
                    &[("204", no_content("The password is set; no body."))],
                    &statuses(&[&BODY_ERRORS, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/sessions"),
            json!({
                "get": {
                    "tags": [AUTH_TAG],
                    "operationId": "authListSessions",
                    "summary": "List my sessions",
                    "description": "The caller's live sessions; `current` marks the one of this access token.",
                    "security": bearer(),
                    "responses": responses(
                        &[("200", ok("The live sessions.", list_envelope("Session", schema_ref("Meta"))))],
                        &statuses(&[&[401], &SERVER_ERRORS]),
                    ),
                },
                "delete": {
                    "tags": [AUTH_TAG],
                    "operationId": "authRevokeOtherSessions",
                    "summary": "Sign out everywhere else",
                    "description": "Ends every session of the caller except the current one.",
                    "security": bearer(),
                    "responses": responses(
                        &[("204", no_content("Ended; no body."))],
                        &statuses(&[&[401], &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            path("/sessions/{id}"),
            json!({ "delete": {
                "tags": [AUTH_TAG],
                "operationId": "authRevokeSession",
                "summary": "End one of my sessions",
                "description": "404 `record_not_found` when the caller has no live session with this id.",
                "security": bearer(),
                "parameters": [id_parameter("The session's id, from `GET /api/v1/auth/sessions`.")],
                "responses": responses(
                    &[("204", no_content("Ended; no body."))],
                    &statuses(&[&[401, 404], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/jwks.json"),
            json!({ "get": {
                "tags": [AUTH_TAG],
                "operationId": "authJwks",
                "summary": "The keys that verify access tokens",
                "description": "The public Ed25519 keys as a JSON Web Key Set, not wrapped in the \
                    envelope, so JWT libraries can read it; pick the key by the token's `kid`.",
                "responses": responses(
                    &[("200", ok("The key set.", schema_ref("JwkSet")))],
                    &SERVER_ERRORS,
                ),
            }}),
        ),
    ]
}

/// The tags of these operations, with their descriptions.
pub fn tags() -> [Value; 2] {
    [
        json!({
            "name": AUTH_TAG,
            "description": "Accounts, sign-in and sessions. Sign in at `POST /api/v1/auth/login` and \
                send the `access_token` as `Authorization: Bearer <access_token>`; renew it with the \
                `refresh_token` at `/refresh`. Registration, verification, sign-in, refresh and \
                password resets are rate limited per client address.",
        }),
        json!({
            "name": ADMIN_TAG,
            "description": format!(
                "User management and the audit log. Every operation needs an access token whose \
                 roles include `{ADMIN_ROLE}`: 401 without one, 403 with another role."
            ),
        }),
    ]
}

#[cfg(test)]
mod tests {
    use fathom_auth::{PasswordPolicy, PolicyViolation};

    use super::super::auth_schemas::policy_codes;
    use super::*;

    #[test]
    fn the_policy_codes_are_the_ones_the_policy_reports() {
        assert_eq!(
            policy_codes(),
            ["too_short", "too_long", "too_common", "same_as_email"]
        );
        let policy = PasswordPolicy::default();
        let refused = [
            ("short", None),
            ("password", None),
            ("ada@example.com", Some("ada@example.com")),
        ];
        for (password, email) in refused {
            let code = policy
                .check(password, email)
                .err()
                .map(PolicyViolation::code);
            assert!(
                code.is_some_and(|c| policy_codes().contains(&c)),
                "{password}"
            );
        }
    }

    #[test]
    fn every_rate_limited_response_carries_the_headers() {
        let all = rate_limited(&[("204", no_content("x"))], &[400]);
        let statuses: Vec<&String> = all
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(statuses, ["204", "400", "429"]);
        for (status, response) in all.as_object().into_iter().flatten() {
            for (name, _) in RATE_LIMIT_HEADERS {
                assert!(response["headers"].get(name).is_some(), "{status} {name}");
            }
            assert_eq!(
                response["headers"].get("Retry-After").is_some(),
                status == "429"
            );
            assert!(response["headers"].get("X-Request-Id").is_some());
        }
    }
}
