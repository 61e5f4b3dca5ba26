//! Administration (`/api/v1/admin`): users, API keys, the audit log and the development
//! mailbox; their path items and the schemas only they use. They mirror the handlers in
//! `crate::admin`.

use fathom_auth::KEY_OPERATIONS;
use serde_json::{Map, Value, json};

use super::auth::{
    ADMIN_TAG, AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, BODY_ERRORS, MAX_TENANT_BYTES, SERVER_ERRORS,
    USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT, bearer, body, id_parameter, limit_parameter,
    list_envelope, no_content, nullable_text, object, request, statuses, text, timestamp,
};
use super::operations::{ok, responses, single_envelope};
use super::schemas::schema_ref;

/// The component schemas of the API-key operations.
pub fn schemas() -> Map<String, Value> {
    let scopes = json!({
        "type": "array",
        "minItems": 1,
        "maxItems": 50,
        "items": {
            "type": "string",
            "description": format!(
                "`collection:operation,...`: a collection name or `*`, then operations from {} or `*`; or `events:read`, which lets the key read the change feed (`GET /api/v1/events`).",
                KEY_OPERATIONS.join(", ")
            ),
            "example": "orders:list,view",
        },
    });
    let tenant = json!({
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": MAX_TENANT_BYTES,
        "description": "Confine the key to one tenant; null or absent reaches every tenant.",
    });
    let mut key = Map::new();
    key.insert("id".into(), json!({ "type": "string", "format": "uuid" }));
    key.insert("name".into(), text("What the key is for."));
    key.insert(
        "prefix".into(),
        text("The visible part of the key: `fth_<prefix>_...`."),
    );
    key.insert("scopes".into(), scopes.clone());
    key.insert(
        "tenant".into(),
        nullable_text("The tenant the key is confined to, if any."),
    );
    key.insert(
        "created_at".into(),
        timestamp("When the key was created (UTC)."),
    );
    key.insert(
        "revoked_at".into(),
        nullable_text("When the key was revoked, if it was."),
    );
    key.insert(
        "created_by".into(),
        json!({
            "type": ["string", "null"],
            "format": "uuid",
            "description": "The administrator who created the key; null for a key made with `fathom keys create`.",
        }),
    );
    key.insert(
        "status".into(),
        json!({
            "type": "string",
            "enum": ["active", "suspended", "revoked"],
            "description": "`suspended` while the key's creator is not an enabled administrator (the key answers 401 until the creator is restored).",
        }),
    );
    let mut created = key.clone();
    created.insert(
        "key".into(),
        text("The key itself: shown this once, stored only as a hash."),
    );
    let mut mail = Map::new();
    mail.insert("to".into(), text("The recipient."));
    mail.insert("subject".into(), text("The subject."));
    mail.insert(
        "body".into(),
        text("The text, ending with the token it carries."),
    );
    let mut out = Map::new();
    out.insert(
        "Mail".into(),
        object("A message in the development mailbox", mail),
    );
    out.insert(
        "ApiKey".into(),
        object("An API key (never the key itself)", key),
    );
    out.insert(
        "CreatedApiKey".into(),
        object("A new API key, with the key", created),
    );
    out.insert(
        "NewApiKey".into(),
        request(
            "A new API key",
            &[
                (
                    "name",
                    json!({ "type": "string", "minLength": 1, "maxLength": 100 }),
                ),
                ("scopes", scopes),
            ],
            &[("tenant", tenant)],
        ),
    );
    out
}

/// The path items under `/api/v1/admin`.
pub fn paths() -> Vec<(String, Value)> {
    let denied: &[u16] = &[401, 403];
    let user_id = || id_parameter("The user's id, from `GET /api/v1/admin/users`.");
    let page_meta = json!({
        "type": "object",
        "required": ["requestId", "page"],
        "properties": {
            "requestId": { "type": "string" },
            "page": {
                "type": "object",
                "required": ["limit", "next_after"],
                "properties": {
                    "limit": { "type": "integer", "description": "The page size used." },
                    "next_after": {
                        "type": ["string", "null"],
                        "format": "uuid",
                        "description": "Pass as `after` for the next page; null once a page comes back short.",
                    },
                },
            },
        },
    });
    vec![
        (
            "/api/v1/admin/users".to_owned(),
            json!({
            "post": {
                "tags": [ADMIN_TAG],
                "operationId": "adminCreateUser",
                "summary": "Create a user",
                "description": "Creates an account with any roles, with a password or invited by a mailed set-password link (`invite = true`; no password signs in until the link is used). 409 `unique_violation` when the email is taken. Audited.",
                "security": bearer(),
                "requestBody": body("NewUser"),
                "responses": responses(
                    &[("201", ok("The new user.", single_envelope("AdminUser")))],
                    &statuses(&[&BODY_ERRORS, &[409], denied, &SERVER_ERRORS]),
                ),
            },
            "get": {
                "tags": [ADMIN_TAG],
                "operationId": "adminListUsers",
                "summary": "List users",
                "description": "Users in id order (UUIDv7, so oldest first), a page at a time.",
                "security": bearer(),
                "parameters": [
                    limit_parameter("Users per page.", USERS_DEFAULT_LIMIT, USERS_MAX_LIMIT),
                    {
                        "name": "after", "in": "query", "required": false,
                        "description": "Start after this user id: `meta.page.next_after` of the previous page.",
                        "schema": { "type": "string", "format": "uuid" },
                    },
                    {
                        "name": "email", "in": "query", "required": false,
                        "description": "Only the user with this email (exact, whatever the case): a page of one or none.",
                        "schema": { "type": "string" },
                    },
                    {
                        "name": "filter", "in": "query", "required": false,
                        "description": "Only users matching this expression over the account fields (`email`, `tenant`, `verified`, `disabled`, `created_at`, `updated_at`, `id` and the `[users]` profile fields), as in record filters: `email ~ \"%@example.com\" && verified = false`. At most 10,000 accounts are read per request; a page cut short by that still names `next_after`. 400 `invalid_query` for an expression that does not parse or names no such field.",
                        "schema": { "type": "string" },
                    },
                ],
                "responses": responses(
                    &[("200", ok("A page of users.", list_envelope("AdminUser", page_meta)))],
                    &statuses(&[&[400], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            "/api/v1/admin/users/{id}".to_owned(),
            json!({
                "get": {
                    "tags": [ADMIN_TAG],
                    "operationId": "adminGetUser",
                    "summary": "Get a user",
                    "description": "400 `invalid_id` when the id is not a UUID.",
                    "security": bearer(),
                    "parameters": [user_id()],
                    "responses": responses(
                        &[("200", ok("The user.", single_envelope("AdminUser")))],
                        &statuses(&[&[400, 404], denied, &SERVER_ERRORS]),
                    ),
                },
                "patch": {
                    "tags": [ADMIN_TAG],
                    "operationId": "adminUpdateUser",
                    "summary": "Change a user",
                    "description": "Changes roles, disabled, verified and tenant; only the fields sent \
                        change, and any other field is refused. Disabling a user ends every session \
                        of theirs at once. Every change is written to the audit log.",
                    "security": bearer(),
                    "parameters": [user_id()],
                    "requestBody": body("UserChanges"),
                    "responses": responses(
                        &[("200", ok("The changed user.", single_envelope("AdminUser")))],
                        &statuses(&[&BODY_ERRORS, &[404], denied, &SERVER_ERRORS]),
                    ),
                },
                "delete": {
                    "tags": [ADMIN_TAG],
                    "operationId": "adminDeleteUser",
                    "summary": "Delete a user",
                    "description": "Removes the account with its sessions (its access tokens stop at once on this node). Records pointing at it through relations to `users` follow each relation's `on_delete`: `cascade` removes them, `set_null` clears the reference, each with its event; a `restrict` relation still holding it makes the answer 409 `relation_violation` naming the relations, and nothing changes. Audited.",
                    "security": bearer(),
                    "parameters": [user_id()],
                    "responses": responses(
                        &[("204", no_content("Deleted; no body."))],
                        &statuses(&[&[400, 404, 409], denied, &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            "/api/v1/admin/users/{id}/password".to_owned(),
            json!({ "put": {
                "tags": [ADMIN_TAG],
                "operationId": "adminSetUserPassword",
                "summary": "Set a user's password",
                "description": "Sets the password (checked against the password policy); every session of the user ends and a lockout is lifted. Audited.",
                "security": bearer(),
                "parameters": [user_id()],
                "requestBody": body("NewPasswordRequest"),
                "responses": responses(
                    &[("204", no_content("Set; no body."))],
                    &statuses(&[&BODY_ERRORS, &[404], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            "/api/v1/admin/audit".to_owned(),
            json!({ "get": {
                "tags": [ADMIN_TAG],
                "operationId": "adminListAudit",
                "summary": "Read the audit log",
                "description": "Entries matching every filter given, newest first, a page at a \
                    time: sign-ins and their failures, lockouts, refresh-token reuse, password \
                    changes and resets, session ends, administrative changes, key rotations, \
                    purges, and record changes of collections with `audit = true` (field names \
                    only, never values). Each entry carries its hash and its predecessor's: the \
                    log is a hash chain that `fathom audit verify` checks.",
                "security": bearer(),
                "parameters": audit_parameters(),
                "responses": responses(
                    &[("200", ok("A page of entries.", list_envelope("AuditEntry", audit_page_meta())))],
                    &statuses(&[&[400], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            "/api/v1/admin/mailbox".to_owned(),
            json!({ "get": {
                "tags": [ADMIN_TAG],
                "operationId": "adminReadMailbox",
                "summary": "Read the development mailbox",
                "description": "Mail to `to` held by the development mailbox (verification and reset tokens included), oldest first. Only while no SMTP relay is configured (`mail.smtp_url`); with one the answer is 404.",
                "security": bearer(),
                "parameters": [{
                    "name": "to", "in": "query", "required": true,
                    "description": "The recipient's address, as the mail was sent to it (any non-empty string is looked up; given once).",
                    "schema": { "type": "string", "minLength": 1 },
                }],
                "responses": responses(
                    &[("200", ok("The messages.", list_envelope("Mail", schema_ref("Meta"))))],
                    &statuses(&[&[400, 404], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            "/api/v1/admin/api-keys".to_owned(),
            json!({
                "get": {
                    "tags": [ADMIN_TAG],
                    "operationId": "adminListApiKeys",
                    "summary": "List API keys",
                    "description": "Every key, oldest first, revoked ones included: name, visible prefix, scopes and tenant. Never the key or its hash.",
                    "security": bearer(),
                    "responses": responses(
                        &[("200", ok("The keys.", list_envelope("ApiKey", schema_ref("Meta"))))],
                        &statuses(&[denied, &SERVER_ERRORS]),
                    ),
                },
                "post": {
                    "tags": [ADMIN_TAG],
                    "operationId": "adminCreateApiKey",
                    "summary": "Create an API key",
                    "description": "Creates a key for a service. The answer holds the key itself, once: it is stored only as a hash. A service sends it as `Authorization: Bearer <key>` to the records endpoints, where it may do exactly what its scopes name (collection rules do not apply to it), within its tenant if it has one. A key is never an administrator. Audited.",
                    "security": bearer(),
                    "requestBody": body("NewApiKey"),
                    "responses": responses(
                        &[("201", ok("The key, shown this once.", single_envelope("CreatedApiKey")))],
                        &statuses(&[&BODY_ERRORS, denied, &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            "/api/v1/admin/api-keys/{id}".to_owned(),
            json!({ "delete": {
                "tags": [ADMIN_TAG],
                "operationId": "adminRevokeApiKey",
                "summary": "Revoke an API key",
                "description": "Requests with the key are refused from now on. 404 when no live key has the id. Audited.",
                "security": bearer(),
                "parameters": [id_parameter("The key's id, from `GET /api/v1/admin/api-keys`.")],
                "responses": responses(
                    &[("204", no_content("Revoked; no body."))],
                    &statuses(&[&[404], denied, &SERVER_ERRORS]),
                ),
            }}),
        ),
    ]
}

/// The filters of `GET /api/v1/admin/audit`.
fn audit_parameters() -> Value {
    let text = |name: &str, description: &str| {
        json!({
            "name": name, "in": "query", "required": false, "description": description,
            "schema": { "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]*$" },
        })
    };
    let time = |name: &str, description: &str| {
        json!({
            "name": name, "in": "query", "required": false, "description": description,
            "schema": { "type": "string", "format": "date-time" },
        })
    };
    json!([
        limit_parameter("Entries per page.", AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT),
        text("actor", "Only entries by this actor: a user id, or `api_key:<id>`."),
        text("action", "Only entries of this action, such as `login` or `record.update`."),
        text("collection", "Only record changes of this collection."),
        time("since", "Only entries at or after this time (RFC 3339)."),
        time("until", "Only entries before this time (RFC 3339)."),
        {
            "name": "before", "in": "query", "required": false,
            "description": "Only entries older than this sequence: `meta.page.next_before` of the previous page.",
            "schema": { "type": "integer", "minimum": 1, "maximum": i64::MAX },
        },
    ])
}

/// The `meta` of an audit page.
fn audit_page_meta() -> Value {
    json!({
        "type": "object",
        "required": ["requestId", "page"],
        "properties": {
            "requestId": { "type": "string" },
            "page": {
                "type": "object",
                "required": ["limit", "next_before"],
                "properties": {
                    "limit": { "type": "integer", "description": "The page size used." },
                    "next_before": {
                        "type": ["integer", "null"],
                        "description": "Pass as `before` for the next page; null once a page comes back short.",
                    },
                },
            },
        },
    })
}
