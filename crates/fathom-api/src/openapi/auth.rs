//! Authentication (`/api/v1/auth`): its path items, the schemas it and administration use, the
//! `bearerAuth` security scheme, and the headers of the per-client rate limit. Unlike the records
//! API these shapes are fixed (they do not depend on the schema file); they mirror the handlers
//! in `crate::auth` and `crate::admin`.

use std::collections::BTreeSet;

use fathom_auth::{PasswordPolicy, PolicyViolation};
use fathom_schema::Schema;
use serde_json::{Map, Value, json};

use super::document::{component_ref, problem_response};
use super::operations::{json_content, ok, request_id_header, responses, single_envelope};
use super::schemas::{EXAMPLE_ID, schema_ref, update_schema};
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
const ROLE_PATTERN: &str = "^[a-z0-9_-]{1,32}$";
const MAX_ROLES: usize = 16;
pub(super) const MAX_TENANT_BYTES: usize = 128;

/// A password that passes the default policy, for examples.
const EXAMPLE_PASSWORD: &str = "a long and unusual passphrase";
const EXAMPLE_EMAIL: &str = "ada@example.com";

/// The headers every answer of a rate-limited operation carries: `(header, component)`.
const RATE_LIMIT_HEADERS: [(&str, &str); 4] = [
    ("RateLimit-Limit", "RateLimitLimit"),
    ("RateLimit-Remaining", "RateLimitRemaining"),
    ("RateLimit-Reset", "RateLimitReset"),
    ("RateLimit-Policy", "RateLimitPolicy"),
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
        "RateLimitLimit".into(),
        integer(
            "Requests this client address may make in the window (`auth.rate_limit_per_minute`).",
            1,
        ),
    );
    out.insert(
        "RateLimitRemaining".into(),
        integer("Requests left in the window.", 0),
    );
    out.insert(
        "RateLimitReset".into(),
        integer("Seconds until the whole quota is available again.", 0),
    );
    out.insert(
        "RateLimitPolicy".into(),
        json!({
            "description": "The quota and its window in seconds, such as `20;w=60`.",
            "required": true,
            "schema": { "type": "string" },
            "example": "20;w=60",
        }),
    );
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

/// The codes `errors[].code` carries for a password the policy refuses. The match is exhaustive
/// on purpose: a new rule does not compile until it is listed (and so documented) here.
fn policy_codes() -> Vec<&'static str> {
    [
        PolicyViolation::TooShort {
            min_length: PasswordPolicy::DEFAULT_MIN_LENGTH,
        },
        PolicyViolation::TooLong {
            max_length: PasswordPolicy::MAX_LENGTH,
        },
        PolicyViolation::TooCommon,
        PolicyViolation::SameAsEmail,
    ]
    .into_iter()
    .map(|rule| match rule {
        PolicyViolation::TooShort { .. }
        | PolicyViolation::TooLong { .. }
        | PolicyViolation::TooCommon
        | PolicyViolation::SameAsEmail => rule.code(),
    })
    .collect()
}

fn code_list(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sentence on refused passwords, for the operations that set one.
fn policy_note(field: &str) -> String {
    format!(
        "A `{field}` the password policy refuses is a 400 `validation_failed` whose `errors` entry \
         has the code {}.",
        code_list(&policy_codes())
    )
}

/// A non-empty string field of a request body.
pub(super) fn text(description: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "description": description })
}

fn email(description: &str) -> Value {
    json!({
        "type": "string",
        "format": "email",
        "minLength": 1,
        "description": description,
        "examples": [EXAMPLE_EMAIL],
    })
}

pub(super) fn timestamp(description: &str) -> Value {
    json!({ "type": "string", "format": "date-time", "description": description })
}

pub(super) fn nullable_text(description: &str) -> Value {
    json!({ "type": ["string", "null"], "description": description })
}

/// The properties of a user as `user_json` writes them.
fn user_properties() -> Map<String, Value> {
    let mut p = Map::new();
    p.insert(
        "id".into(),
        json!({ "type": "string", "format": "uuid", "description": "The user's id (a UUIDv7)." }),
    );
    p.insert(
        "email".into(),
        json!({ "type": "string", "format": "email", "description": "The sign-in address, lowercased." }),
    );
    p.insert(
        "roles".into(),
        json!({
            "type": "array",
            "items": { "type": "string" },
            "description": format!(
                "Role names; `{ADMIN_ROLE}` may use `/api/v1/admin`. New accounts have `user`."
            ),
        }),
    );
    p.insert(
        "tenant".into(),
        nullable_text("The tenant the user belongs to, if any."),
    );
    p.insert(
        "verified".into(),
        json!({ "type": "boolean", "description": "Whether the email address is confirmed." }),
    );
    p.insert(
        "created_at".into(),
        timestamp("When the account was created (UTC)."),
    );
    p.insert(
        "profile".into(),
        json!({
            "type": "object",
            "description": "The profile fields the schema declares under `[users]` that have a value.",
        }),
    );
    p
}

pub(super) fn object(title: &str, properties: Map<String, Value>) -> Value {
    let required: Vec<&String> = properties.keys().collect();
    json!({ "type": "object", "title": title, "required": required, "properties": properties })
}

/// A request body: the required fields first, then the optional ones.
pub(super) fn request(
    title: &str,
    required: &[(&str, Value)],
    optional: &[(&str, Value)],
) -> Value {
    let mut properties = Map::new();
    for (name, schema) in required.iter().chain(optional) {
        properties.insert((*name).to_owned(), schema.clone());
    }
    let names: Vec<&str> = required.iter().map(|(name, _)| *name).collect();
    json!({ "type": "object", "title": title, "required": names, "properties": properties })
}

/// `ProfileChanges`: the body of `PATCH /auth/me`, the profile fields the schema declares under
/// `[users]` (validated like a record update). Without any, only the empty object is taken.
pub fn profile_changes(schema: &Schema) -> Value {
    let Some(users) = &schema.users else {
        return json!({
            "type": "object",
            "title": "Profile changes",
            "description": "This server declares no profile fields under `[users]`, so there is nothing to change: `{}` answers the profile as it is, anything else is a 400.",
            "maxProperties": 0,
        });
    };
    let mut changes = update_schema(users);
    changes["title"] = json!("Profile changes");
    changes["description"] = json!(
        "Profile fields (as declared under `[users]` in the schema) and their new values; null clears one."
    );
    changes
}

/// The component schemas of these operations; `policy` is the served password policy, whose
/// minimum length is configurable.
pub fn schemas(policy: &PasswordPolicy) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("User".into(), object("A user account", user_properties()));
    let mut admin = user_properties();
    admin.insert(
        "disabled".into(),
        json!({ "type": "boolean", "description": "A disabled user cannot sign in." }),
    );
    admin.insert(
        "failed_logins".into(),
        json!({ "type": "integer", "minimum": 0, "description": "Failed logins since the last success." }),
    );
    admin.insert(
        "locked_until".into(),
        json!({
            "type": ["string", "null"],
            "format": "date-time",
            "description": "Until when logins are refused after too many failures; null when never locked.",
        }),
    );
    admin.insert(
        "updated_at".into(),
        timestamp("When the account last changed (UTC)."),
    );
    out.insert(
        "AdminUser".into(),
        object("A user account, as administrators see it", admin),
    );

    let mut pair = Map::new();
    pair.insert(
        "access_token".into(),
        json!({ "type": "string", "description": "Send as `Authorization: Bearer <access_token>`." }),
    );
    pair.insert("token_type".into(), json!({ "const": "Bearer" }));
    pair.insert(
        "expires_in".into(),
        json!({ "type": "integer", "minimum": 1, "description": "Seconds the access token lasts." }),
    );
    pair.insert(
        "refresh_token".into(),
        json!({
            "type": "string",
            "description": "Trade for the next pair at `/refresh`; works once. Keep it secret.",
        }),
    );
    pair.insert(
        "session_id".into(),
        json!({ "type": "string", "format": "uuid", "description": "The session this pair belongs to." }),
    );
    pair.insert(
        "session_expires_at".into(),
        timestamp("The session's absolute end: refreshing does not move it."),
    );
    pair.insert("user".into(), schema_ref("User"));
    out.insert(
        "TokenPair".into(),
        object("An access token and the refresh token that renews it", pair),
    );

    let mut session = Map::new();
    session.insert("id".into(), json!({ "type": "string", "format": "uuid" }));
    session.insert(
        "current".into(),
        json!({ "type": "boolean", "description": "Whether this is the session of the access token used." }),
    );
    session.insert("created_at".into(), timestamp("When it began (UTC)."));
    session.insert(
        "last_used_at".into(),
        timestamp("When it was last refreshed (UTC)."),
    );
    session.insert("expires_at".into(), timestamp("Its absolute end (UTC)."));
    session.insert(
        "user_agent".into(),
        nullable_text("The `User-Agent` that signed in."),
    );
    session.insert(
        "ip".into(),
        nullable_text("The client address that signed in."),
    );
    out.insert("Session".into(), object("A live session", session));

    out.insert(
        "Accepted".into(),
        json!({
            "type": "object",
            "title": "A request taken on",
            "required": ["data", "meta"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["status", "message"],
                    "properties": {
                        "status": { "const": "accepted" },
                        "message": { "type": "string" },
                    },
                },
                "meta": schema_ref("Meta"),
            },
        }),
    );

    let mut key = Map::new();
    key.insert("kty".into(), json!({ "const": "OKP" }));
    key.insert("crv".into(), json!({ "const": "Ed25519" }));
    key.insert(
        "x".into(),
        json!({ "type": "string", "description": "The public key, base64url without padding." }),
    );
    key.insert(
        "kid".into(),
        json!({ "type": "string", "description": "Matches the `kid` in an access token's header." }),
    );
    key.insert("alg".into(), json!({ "const": "EdDSA" }));
    key.insert("use".into(), json!({ "const": "sig" }));
    out.insert("Jwk".into(), object("A public signing key (RFC 8037)", key));
    out.insert(
        "JwkSet".into(),
        json!({
            "type": "object",
            "title": "A JSON Web Key Set (RFC 7517)",
            "required": ["keys"],
            "properties": { "keys": { "type": "array", "items": schema_ref("Jwk") } },
        }),
    );

    let mut entry = Map::new();
    entry.insert(
        "seq".into(),
        json!({ "type": "integer", "minimum": 1, "description": "Grows by one per entry." }),
    );
    entry.insert("at".into(), timestamp("When it happened (UTC)."));
    entry.insert(
        "action".into(),
        json!({
            "type": "string",
            "description": "What happened, such as `login`, `lockout`, `refresh_token_reuse`, \
                `password_change`, `password_reset` or `admin_user_update`.",
            "examples": ["login"],
        }),
    );
    entry.insert(
        "outcome".into(),
        json!({
            "type": "string",
            "description": "`success`, `failure` or `denied`.",
            "examples": ["success"],
        }),
    );
    entry.insert(
        "actor".into(),
        nullable_text("The id of the user who acted, when known."),
    );
    entry.insert(
        "target".into(),
        nullable_text("The id of the user acted on, for administrative changes."),
    );
    entry.insert(
        "request_id".into(),
        nullable_text("The `X-Request-Id` of the request."),
    );
    entry.insert("ip".into(), nullable_text("The client address."));
    entry.insert("detail".into(), nullable_text("More about what happened."));
    out.insert("AuditEntry".into(), object("An audit log entry", entry));

    out.insert(
        "UserChanges".into(),
        json!({
            "type": "object",
            "title": "Changes to a user",
            "description": "Only the fields sent change.",
            "properties": {
                "roles": {
                    "type": "array",
                    "maxItems": MAX_ROLES,
                    "items": { "type": "string", "pattern": ROLE_PATTERN },
                    "description": format!(
                        "Replaces the roles. `{ADMIN_ROLE}` may use `/api/v1/admin`; the change \
                         applies to access tokens issued from now on."
                    ),
                },
                "disabled": {
                    "type": "boolean",
                    "description": "Disabling ends every session of the user at once.",
                },
                "verified": { "type": "boolean", "description": "Marks the email address confirmed, or not." },
                "tenant": {
                    "type": ["string", "null"],
                    "minLength": 1,
                    "maxLength": MAX_TENANT_BYTES,
                    "description": format!(
                        "At most {MAX_TENANT_BYTES} bytes of UTF-8; null clears it."
                    ),
                },
            },
            "additionalProperties": false,
            "examples": [{ "verified": true }],
        }),
    );

    out.insert(
        "NewPassword".into(),
        json!({
            "type": "string",
            "minLength": policy.min_length(),
            "maxLength": policy.max_length(),
            "description": format!(
                "At least {} characters (this server's `auth.password_min_length`; {} unless \
                 configured, never fewer than {}) and at most {}; not a commonly used password and \
                 not the email address. No composition rules: a passphrase of several words works \
                 well. Refusals name the rule in `errors[].code`: {}.",
                policy.min_length(),
                PasswordPolicy::DEFAULT_MIN_LENGTH,
                PasswordPolicy::LOWEST_MIN_LENGTH,
                policy.max_length(),
                code_list(&policy_codes()),
            ),
            "examples": [EXAMPLE_PASSWORD],
        }),
    );
    let password = json!({ "type": "string", "minLength": 1, "examples": [EXAMPLE_PASSWORD] });
    out.insert(
        "RegisterRequest".into(),
        request(
            "A new account",
            &[
                (
                    "email",
                    email("The address to sign in with; a verification token is mailed to it."),
                ),
                ("password", schema_ref("NewPassword")),
            ],
            &[],
        ),
    );
    out.insert(
        "LoginRequest".into(),
        request(
            "Credentials",
            &[
                ("email", email("Compared case-insensitively.")),
                ("password", password.clone()),
            ],
            &[],
        ),
    );
    out.insert(
        "RefreshRequest".into(),
        request(
            "A refresh token",
            &[("refresh_token", text("From the last token pair."))],
            &[],
        ),
    );
    out.insert(
        "VerifyRequest".into(),
        request(
            "An email verification",
            &[("token", text("The token from the verification email."))],
            &[],
        ),
    );
    out.insert(
        "PasswordChangeRequest".into(),
        request(
            "A password change",
            &[
                ("current_password", password),
                ("new_password", schema_ref("NewPassword")),
            ],
            &[],
        ),
    );
    out.insert(
        "PasswordResetRequest".into(),
        request(
            "A password reset request",
            // Any string is taken (an unknown or malformed address gets the same 202), so the
            // document promises no email format here.
            &[(
                "email",
                text("The account's address. The answer is the same whether or not an account uses it."),
            )],
            &[],
        ),
    );
    out.insert(
        "PasswordResetConfirmRequest".into(),
        request(
            "A new password, with the reset token",
            &[
                ("token", text("The token from the reset email.")),
                ("new_password", schema_ref("NewPassword")),
            ],
            &[],
        ),
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
fn rate_limited(success: &[(&str, Value)], error_statuses: &[u16]) -> Value {
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
const RATE_LIMITED: &str = " Rate limited per client address: every answer carries `RateLimit-*` \
headers, and past the limit the answer is 429 `too_many_requests` with `Retry-After`.";

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
                     (unknown address, wrong password, disabled or locked account) is the same 401 \
                     `invalid_credentials`. After `auth.lockout_threshold` failures in a row the \
                     account is locked for `auth.lockout_minutes`; a password reset lifts the lock.{RATE_LIMITED}"
                ),
                "requestBody": body("LoginRequest"),
                "responses": rate_limited(
                    &[("200", pair())],
                    &statuses(&[&BODY_ERRORS, &[401], &SERVER_ERRORS]),
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
