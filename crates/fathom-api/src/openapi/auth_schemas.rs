//! The component schemas of authentication and administration: users, tokens, sessions, keys,
//! the request bodies of the auth flows (with the served password policy) and the profile
//! changes the schema's `[users]` fields allow. Their paths are in `auth`.

use fathom_auth::{PasswordPolicy, PolicyViolation};
use fathom_schema::Schema;
use serde_json::{Map, Value, json};

use super::auth::{EXAMPLE_EMAIL, EXAMPLE_PASSWORD, MAX_ROLES, MAX_TENANT_BYTES, ROLE_PATTERN};
use super::schemas::{schema_ref, update_schema};
use crate::admin::ADMIN_ROLE;

/// The codes `errors[].code` carries for a password the policy refuses. The match is exhaustive
/// on purpose: a new rule does not compile until it is listed (and so documented) here.
pub(super) fn policy_codes() -> Vec<&'static str> {
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

pub(super) fn code_list(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sentence on refused passwords, for the operations that set one.
pub(super) fn policy_note(field: &str) -> String {
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

pub(super) fn email(description: &str) -> Value {
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
pub(super) fn user_properties() -> Map<String, Value> {
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
        nullable_text("What was acted on: a user, key or record id."),
    );
    entry.insert(
        "request_id".into(),
        nullable_text("The `X-Request-Id` of the request."),
    );
    entry.insert("ip".into(), nullable_text("The client address."));
    entry.insert("detail".into(), nullable_text("More about what happened."));
    entry.insert(
        "collection".into(),
        nullable_text("The collection of a record change (`audit = true` collections)."),
    );
    entry.insert(
        "changed".into(),
        json!({
            "type": "array",
            "items": { "type": "string" },
            "description": "The names of the fields a record change wrote (never their values).",
        }),
    );
    entry.insert(
        "prev_hash".into(),
        json!({ "type": "string", "description": "The hash of the entry before (64 zeros for the first)." }),
    );
    entry.insert(
        "hash".into(),
        json!({ "type": "string", "description": "SHA-256 over this entry's canonical form and `prev_hash`, lowercase hex (docs/AUDIT.md)." }),
    );
    out.insert("AuditEntry".into(), object("An audit log entry", entry));

    out.insert(
        "NewUser".into(),
        json!({
            "type": "object",
            "title": "A new user",
            "description": "Exactly one of `password` and `invite = true`.",
            "required": ["email"],
            "properties": {
                "email": { "type": "string", "description": "The address to sign in with (stored lowercased)." },
                "password": { "type": "string", "description": "The password, checked against the password policy." },
                "invite": { "type": "boolean", "description": "Mail a set-password link (redeemed at `/api/v1/auth/password-reset/confirm`) instead of giving a password." },
                "roles": {
                    "type": "array",
                    "maxItems": MAX_ROLES,
                    "items": { "type": "string", "pattern": ROLE_PATTERN },
                    "description": "The roles; `[\"user\"]` when absent.",
                },
                "tenant": {
                    "type": ["string", "null"],
                    "minLength": 1,
                    "maxLength": MAX_TENANT_BYTES,
                },
                "verified": { "type": "boolean", "description": "Whether the address counts as confirmed; false when absent." },
            },
            "additionalProperties": false,
            "examples": [{ "email": "editor@example.com", "invite": true, "roles": ["editor"] }],
        }),
    );
    out.insert(
        "NewPasswordRequest".into(),
        request(
            "A password set by an administrator",
            &[("password", schema_ref("NewPassword"))],
            &[],
        ),
    );
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
        "Registered".into(),
        json!({
            "type": "object",
            "title": "A registration taken on",
            "required": ["data", "meta"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["status", "message", "id"],
                    "properties": {
                        "status": { "const": "accepted" },
                        "message": { "type": "string" },
                        "id": {
                            "type": "string",
                            "format": "uuid",
                            "description": "The new account's id. For an address already registered, a fresh UUIDv7 that names no account, so the answer reveals nothing.",
                        },
                    },
                },
                "meta": schema_ref("Meta"),
            },
        }),
    );
    out.insert(
        "EmailChangeRequest".into(),
        request(
            "An email change",
            &[
                (
                    "new_email",
                    email("The new address; a confirmation link is mailed to it."),
                ),
                ("password", text("The current password.")),
            ],
            &[],
        ),
    );
    out.insert(
        "ResendRequest".into(),
        request(
            "A request for the verification mail again",
            &[("email", text("The address the account signs in with."))],
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
