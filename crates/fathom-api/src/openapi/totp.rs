//! The TOTP second factor in the document: `/api/v1/auth/totp` (status, enrolment, disabling),
//! `/totp/confirm`, `/totp/recovery-codes` and `/login/second-factor`, with their bodies. They
//! mirror `crate::auth::totp`; every one checks codes, so every one shares the sign-in budget.

use serde_json::{Map, Value, json};

use super::auth::{
    AUTH_TAG, BODY_ERRORS, RATE_LIMITED, SERVER_ERRORS, bearer, body, no_content, object,
    rate_limited, request, statuses, text, timestamp,
};
use super::operations::{ok, single_envelope};

/// What every operation that checks a code says about wrong ones.
const CODE_NOTE: &str = "A wrong code, or one already used (a TOTP code is accepted once: \
the account keeps its last accepted time step), is a 401 `second_factor_invalid`; after \
`auth.totp.account_attempts` wrong ones the account's second factor is refused with 429 \
`second_factor_locked` (with `Retry-After`) for `auth.totp.lockout_minutes`.";

fn code(description: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": 64, "description": description, "examples": ["123456"] })
}

const FRESH: &str =
    "A current 6-digit code from the authenticator app, or an unused recovery code.";

/// The path items.
pub fn paths() -> Vec<(String, Value)> {
    let path = |p: &str| format!("/api/v1/auth{p}");
    vec![
        (
            path("/totp"),
            json!({
                "get": {
                    "tags": [AUTH_TAG],
                    "operationId": "authTotpStatus",
                    "summary": "My TOTP second factor",
                    "description": format!("Whether TOTP is on, whether an enrolment awaits confirmation, and how many recovery codes are left.{RATE_LIMITED}"),
                    "security": bearer(),
                    "responses": rate_limited(
                        &[("200", ok("The factor's state.", single_envelope("TotpStatus")))],
                        &statuses(&[&[401], &SERVER_ERRORS]),
                    ),
                },
                "post": {
                    "tags": [AUTH_TAG],
                    "operationId": "authTotpEnrol",
                    "summary": "Start a TOTP enrolment",
                    "description": format!(
                        "Draws a new secret and answers its `otpauth://` URI (show it as a QR code) \
                         and the secret in base32 for typing in. It is on only once \
                         `/totp/confirm` gets a code from it, within `auth.totp.enrolment_ttl_secs`. \
                         With TOTP already on, `code` must prove the current factor, which stays on \
                         until the new secret is confirmed. {CODE_NOTE}{RATE_LIMITED}"
                    ),
                    "security": bearer(),
                    "requestBody": body("TotpEnrolRequest"),
                    "responses": rate_limited(
                        &[("201", ok("The pending secret.", single_envelope("TotpEnrolment")))],
                        &statuses(&[&BODY_ERRORS, &[401], &SERVER_ERRORS]),
                    ),
                },
                "delete": {
                    "tags": [AUTH_TAG],
                    "operationId": "authTotpDisable",
                    "summary": "Turn TOTP off",
                    "description": format!(
                        "Needs a fresh factor in `code`. Removes the secret and the recovery codes. \
                         409 `totp_not_enabled` when TOTP is not on. {CODE_NOTE}{RATE_LIMITED}"
                    ),
                    "security": bearer(),
                    "requestBody": body("TotpCodeRequest"),
                    "responses": rate_limited(
                        &[("204", no_content("Off; no body."))],
                        &statuses(&[&BODY_ERRORS, &[401, 409], &SERVER_ERRORS]),
                    ),
                },
            }),
        ),
        (
            path("/totp/confirm"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authTotpConfirm",
                "summary": "Confirm the TOTP enrolment",
                "description": format!(
                    "A current code from the pending secret turns TOTP on and answers the recovery \
                     codes: the only time they are shown (they are stored hashed). A code that does \
                     not match is a 401 `second_factor_invalid`; 409 `totp_not_pending` when no \
                     enrolment awaits confirmation.{RATE_LIMITED}"
                ),
                "security": bearer(),
                "requestBody": body("TotpCodeRequest"),
                "responses": rate_limited(
                    &[("200", ok("On, with the recovery codes.", single_envelope("TotpRecoveryCodes")))],
                    &statuses(&[&BODY_ERRORS, &[401, 409], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/totp/recovery-codes"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authTotpRenewRecoveryCodes",
                "summary": "New recovery codes",
                "description": format!(
                    "Needs a fresh factor in `code`; the old recovery codes stop working and the new \
                     ones are shown this once. 409 `totp_not_enabled` when TOTP is not on. \
                     {CODE_NOTE}{RATE_LIMITED}"
                ),
                "security": bearer(),
                "requestBody": body("TotpCodeRequest"),
                "responses": rate_limited(
                    &[("200", ok("The new recovery codes.", single_envelope("TotpRecoveryCodes")))],
                    &statuses(&[&BODY_ERRORS, &[401, 409], &SERVER_ERRORS]),
                ),
            }}),
        ),
        (
            path("/login/second-factor"),
            json!({ "post": {
                "tags": [AUTH_TAG],
                "operationId": "authLoginSecondFactor",
                "summary": "Finish signing in with the second factor",
                "description": format!(
                    "Trades the `challenge` of a password sign-in (202 from `/login`) and a TOTP code \
                     or a recovery code for the token pair. A challenge is single use, lives \
                     `auth.totp.challenge_ttl_secs`, and takes `auth.totp.challenge_attempts` codes \
                     at most; an unknown, expired, spent or exhausted one is a 401 \
                     `challenge_invalid` (sign in with the password again). {CODE_NOTE}{RATE_LIMITED}"
                ),
                "requestBody": body("SecondFactorRequest"),
                "responses": rate_limited(
                    &[("200", ok("Signed in: the token pair.", single_envelope("TokenPair")))],
                    &statuses(&[&BODY_ERRORS, &[401], &SERVER_ERRORS]),
                ),
            }}),
        ),
    ]
}

/// The component schemas.
pub fn schemas() -> Map<String, Value> {
    let mut out = Map::new();
    let mut challenge = Map::new();
    challenge.insert(
        "second_factor_required".into(),
        json!({ "type": "boolean", "const": true }),
    );
    challenge.insert(
        "challenge".into(),
        json!({ "type": "string", "description": "Send it with a code to `/login/second-factor`. Single use; keep it secret." }),
    );
    challenge.insert(
        "expires_in".into(),
        json!({ "type": "integer", "minimum": 1, "description": "Seconds the challenge lives." }),
    );
    challenge.insert(
        "methods".into(),
        json!({ "type": "array", "items": { "type": "string", "enum": ["totp", "recovery_code"] } }),
    );
    out.insert(
        "SecondFactorChallenge".into(),
        object("A password sign-in that needs its second factor", challenge),
    );

    let mut status = Map::new();
    status.insert(
        "enabled".into(),
        json!({ "type": "boolean", "description": "Whether sign-in asks for a TOTP code." }),
    );
    status.insert(
        "enabled_at".into(),
        json!({ "type": ["string", "null"], "format": "date-time", "description": "When it was turned on (UTC)." }),
    );
    status.insert("pending".into(), json!({ "type": "boolean", "description": "Whether an enrolment awaits its confirming code." }));
    status.insert(
        "recovery_codes_left".into(),
        json!({ "type": "integer", "minimum": 0, "description": "Unused recovery codes." }),
    );
    out.insert(
        "TotpStatus".into(),
        object("The TOTP factor's state", status),
    );

    let mut enrolment = Map::new();
    enrolment.insert(
        "otpauth_uri".into(),
        json!({ "type": "string", "description": "`otpauth://totp/<issuer>:<account>?secret=...&issuer=...`: show it as a QR code." }),
    );
    enrolment.insert(
        "secret".into(),
        text("The secret in base32, for typing into the app."),
    );
    enrolment.insert("issuer".into(), text("`auth.totp.issuer`."));
    enrolment.insert(
        "account".into(),
        text("The account's email, as the app shows it."),
    );
    enrolment.insert(
        "algorithm".into(),
        json!({ "type": "string", "const": "SHA1" }),
    );
    enrolment.insert("digits".into(), json!({ "type": "integer", "const": 6 }));
    enrolment.insert("period".into(), json!({ "type": "integer", "const": 30 }));
    enrolment.insert(
        "expires_at".into(),
        timestamp("Confirm before this instant (UTC)."),
    );
    out.insert(
        "TotpEnrolment".into(),
        object("A pending TOTP secret", enrolment),
    );

    let mut recovery = Map::new();
    recovery.insert(
        "enabled".into(),
        json!({ "type": "boolean", "const": true }),
    );
    recovery.insert(
        "recovery_codes".into(),
        json!({
            "type": "array",
            "items": { "type": "string", "examples": ["abcd-efgh-jkmn"] },
            "description": "Each signs in once in place of a TOTP code. Shown only now.",
        }),
    );
    out.insert(
        "TotpRecoveryCodes".into(),
        object("Recovery codes, shown once", recovery),
    );

    out.insert(
        "TotpEnrolRequest".into(),
        request(
            "A TOTP enrolment (send `{}` when TOTP is not on yet)",
            &[],
            &[(
                "code",
                code(&format!("Needed when TOTP is already on. {FRESH}")),
            )],
        ),
    );
    out.insert(
        "TotpCodeRequest".into(),
        request("A code", &[("code", code(FRESH))], &[]),
    );
    out.insert(
        "SecondFactorRequest".into(),
        request(
            "The second step of a sign-in",
            &[
                ("challenge", text("From the 202 of `/login`.")),
                ("code", code(FRESH)),
            ],
            &[],
        ),
    );
    out
}
