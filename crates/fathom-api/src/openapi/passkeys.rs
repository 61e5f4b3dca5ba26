//! Passkeys (`/api/v1/auth/passkeys...`): their path items and schemas, mirroring
//! `crate::auth::passkeys`. The routes are always there; without `[auth.passkeys]` each answers
//! 404 `passkeys_disabled`. The WebAuthn options and responses are described as the objects the
//! browser's `navigator.credentials` API takes and gives (their members are WebAuthn's, not
//! Fathom's), so only their envelope is pinned here.

use serde_json::{Map, Value, json};

use super::auth::{
    AUTH_TAG, BODY_ERRORS, RATE_LIMITED, SERVER_ERRORS, bearer, body, id_parameter, list_envelope,
    no_content, nullable_text, object, rate_limited, request, statuses, text, timestamp,
};
use super::operations::{ok, responses, single_envelope};
use super::schemas::schema_ref;
use crate::auth::MAX_PASSKEYS;

/// Where the codes of a refused passkey response are listed, for descriptions.
const REFUSALS: &str = "A response that does not verify is refused: 401 `passkey_invalid` \
(signature, challenge, flags, encoding), 400 `passkey_origin_mismatch` (made for an origin not in \
`[auth.passkeys] origins`), 404 `passkey_ceremony_invalid` (unknown, used or expired \
`ceremony_id`: each ceremony is answered once, whatever the outcome; it is spent before \
`credential` is read).";

/// What `register::passkey_name` accepts: no control character (Unicode `Cc`), and at least one
/// character that is not white space.
const NAME_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// A WebAuthn JSON object, passed through to or from the browser.
fn webauthn(description: &str) -> Value {
    json!({ "type": "object", "description": description })
}

/// The path items.
pub fn paths() -> Vec<(String, Value)> {
    let path = |p: &str| format!("/api/v1/auth{p}");
    vec![
        (
            path("/passkeys/registration/options"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authPasskeyRegistrationOptions",
                "summary": "Start adding a passkey",
                "description": format!(
                    "The options to pass to `navigator.credentials.create()` for the signed-in \
                     account (a discoverable credential with user verification; the account's \
                     passkeys already registered are excluded), and the ceremony id to finish \
                     with at `POST /api/v1/auth/passkeys` within `expires_in` seconds. No body. \
                     409 `passkey_limit_reached` when the account has {MAX_PASSKEYS} passkeys; \
                     404 `passkeys_disabled` when passkeys are off."
                ),
                "security": bearer(),
                "responses": responses(
                    &[("200", ok("The ceremony.", single_envelope("PasskeyCeremony")))],
                    &statuses(&[&[401, 404, 409], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/passkeys"),
            json!({
                "get": {
                    "tags": [AUTH_TAG],
                    "operationId": "authListPasskeys",
                    "summary": "List my passkeys",
                    "description": "The signed-in account's passkeys, oldest first. 404 `passkeys_disabled` when passkeys are off.",
                    "security": bearer(),
                    "responses": responses(
                        &[("200", ok("The passkeys.", list_envelope("Passkey", schema_ref("Meta"))))],
                        &statuses(&[&[401, 404], &SERVER_ERRORS]),
                    ),
                },
                "post": {
                    "tags": [AUTH_TAG],
                    "operationId": "authAddPasskey",
                    "summary": "Finish adding a passkey",
                    "description": format!(
                        "Verifies the authenticator's answer to the registration options and \
                         stores the passkey under `name`. {REFUSALS} 409 \
                         `passkey_already_registered` for a credential registered before, 409 \
                         `passkey_limit_reached` when the account has {MAX_PASSKEYS} passkeys; 400 \
                         `validation_failed` for a missing field or a bad `name` (the name is \
                         checked before the ceremony is spent); 404 `passkeys_disabled` when passkeys are off."
                    ),
                    "security": bearer(),
                    "requestBody": body("PasskeyRegistrationRequest"),
                    "responses": responses(
                        &[("201", ok("The passkey.", single_envelope("Passkey")))],
                        &statuses(&[&BODY_ERRORS, &[401, 404, 409], &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            path("/passkeys/{id}"),
            json!({ "delete": {
                "tags": [AUTH_TAG],
                "operationId": "authRemovePasskey",
                "summary": "Remove one of my passkeys",
                "description": "404 `passkey_not_found` when the account has no passkey with this \
                    id; 409 `last_sign_in_method` when it is the account's last way to sign in (no \
                    usable password and no other passkey); 404 `passkeys_disabled` when passkeys \
                    are off.",
                "security": bearer(),
                "parameters": [id_parameter("The passkey's id, from `GET /api/v1/auth/passkeys`.")],
                "responses": responses(
                    &[("204", no_content("Removed; no body."))],
                    &statuses(&[&[401, 404, 409], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/passkeys/login/options"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authPasskeySignInOptions",
                "summary": "Start signing in with a passkey",
                "description": format!(
                    "The options to pass to `navigator.credentials.get()`: no account is named, \
                     the authenticator offers its passkeys for this site (discoverable \
                     credentials). Finish at `POST /api/v1/auth/passkeys/login` within \
                     `expires_in` seconds. Any body is ignored. 404 `passkeys_disabled` when \
                     passkeys are off.{RATE_LIMITED}"
                ),
                "responses": rate_limited(
                    &[("200", ok("The ceremony.", single_envelope("PasskeyCeremony")))],
                    &statuses(&[&[404], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/passkeys/login"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authPasskeySignIn",
                "summary": "Sign in with a passkey",
                "description": format!(
                    "Verifies the authenticator's assertion and starts a session, like \
                     `/login`. {REFUSALS} 401 `passkey_unknown` for a credential not registered \
                     here (or removed), 401 `passkey_counter_regressed` when the authenticator's \
                     signature counter did not advance (a cloned authenticator), 401 \
                     `invalid_credentials` for a disabled account, 403 `email_not_verified` when \
                     `auth.require_verified_email` is on and the address is not verified; 404 \
                     `passkeys_disabled` when passkeys are off.{RATE_LIMITED}"
                ),
                "requestBody": body("PasskeySignInRequest"),
                "responses": rate_limited(
                    &[("200", ok("Signed in: the token pair.", single_envelope("TokenPair")))],
                    &statuses(&[&BODY_ERRORS, &[401, 403, 404], &SERVER_ERRORS]),
                ),
            }}),
        ),
    ]
}

/// The component schemas.
pub fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    let mut passkey = Map::new();
    passkey.insert(
        "id".into(),
        json!({ "type": "string", "format": "uuid", "description": "The passkey's id." }),
    );
    passkey.insert("name".into(), text("The name the account gave it."));
    passkey.insert(
        "created_at".into(),
        timestamp("When it was registered (UTC)."),
    );
    passkey.insert(
        "last_used_at".into(),
        nullable_text("When it last signed in (UTC); null before its first sign-in."),
    );
    out.insert("Passkey".into(), object("A passkey", passkey));
    let mut ceremony = Map::new();
    ceremony.insert(
        "ceremony_id".into(),
        json!({ "type": "string", "format": "uuid", "description": "Send it back with the answer." }),
    );
    ceremony.insert(
        "expires_in".into(),
        json!({ "type": "integer", "minimum": 1, "description": "Seconds the ceremony stays open." }),
    );
    ceremony.insert(
        "options".into(),
        webauthn("WebAuthn options: `{publicKey: ...}` for `navigator.credentials.create()` or `.get()` (base64url for binary members)."),
    );
    out.insert(
        "PasskeyCeremony".into(),
        object("A passkey ceremony", ceremony),
    );
    let ceremony_id =
        json!({ "type": "string", "format": "uuid", "description": "From the options answer." });
    out.insert(
        "PasskeyRegistrationRequest".into(),
        request(
            "Finish adding a passkey",
            &[
                ("ceremony_id", ceremony_id.clone()),
                ("credential", webauthn("The `PublicKeyCredential` from `navigator.credentials.create()`, as JSON (`toJSON()`).")),
            ],
            &[(
                "name",
                json!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 100,
                    // Some character that is neither white space nor a control character, and no
                    // control character anywhere: what the handler takes once the name is trimmed.
                    "pattern": NAME_PATTERN,
                    "default": "Passkey",
                    "description": "A name for the passkey, trimmed; 1 to 100 characters, no control characters.",
                }),
            )],
        ),
    );
    out.insert(
        "PasskeySignInRequest".into(),
        request(
            "Sign in with a passkey",
            &[
                ("ceremony_id", ceremony_id),
                ("credential", webauthn("The `PublicKeyCredential` from `navigator.credentials.get()`, as JSON (`toJSON()`).")),
            ],
            &[],
        ),
    );
    out
}
