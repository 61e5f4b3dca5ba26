//! The TOTP second factor (RFC 6238) under `/api/v1/auth/totp` and the sign-in step that asks
//! for it (`/api/v1/auth/login/second-factor`): see docs/IDENTITY.md, "TOTP second factor".
//!
//! `manage` enrols (a pending secret and its `otpauth://` URI, on only once a code confirms it),
//! reports, disables and renews recovery codes; `signin` turns a right password of an account
//! with TOTP on into a short-lived challenge and trades the challenge and a code for the token
//! pair; `codes` holds the secrets' formats. Every code (TOTP or recovery) goes through
//! [`verify_factor`]: refused while the account is locked, accepted once (the last accepted
//! time step is kept per account in the database, so no node takes a code twice), and every
//! wrong one counted per account and audited.

mod codes;
mod manage;
mod signin;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use fathom_core::ErrorCode;
use fathom_store::{TotpFactor, User};
use serde_json::{Map, Value};

use super::tokens::{audit, timestamp_after};
use crate::AppState;
use crate::error::ApiError;

pub(crate) use signin::challenge_if_enabled;

/// The TOTP settings (`[auth.totp]`).
#[derive(Debug, Clone)]
pub struct TotpSettings {
    /// The issuer shown by authenticator apps (the URI's label and `issuer`).
    pub issuer: String,
    /// How long a sign-in challenge lives.
    pub challenge_ttl: Duration,
    /// Codes one challenge may be tried with; past that it is dead.
    pub challenge_attempts: u32,
    /// Wrong second factors for one account (across challenges, enrolment and disabling) before
    /// its second factor is refused for `lockout`.
    pub account_attempts: u32,
    /// How long such a refusal lasts.
    pub lockout: Duration,
    /// Recovery codes given at confirmation and renewal.
    pub recovery_codes: usize,
    /// How long an enrolment waits for its confirming code.
    pub enrolment_ttl: Duration,
}

impl Default for TotpSettings {
    fn default() -> Self {
        Self {
            issuer: "Fathom".into(),
            challenge_ttl: Duration::from_secs(300),
            challenge_attempts: 5,
            account_attempts: 10,
            lockout: Duration::from_secs(15 * 60),
            recovery_codes: 10,
            enrolment_ttl: Duration::from_secs(600),
        }
    }
}

/// The routes that check a code (all of them guesses, so they share the login budget).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/totp",
            get(manage::status)
                .post(manage::enrol)
                .delete(manage::disable),
        )
        .route("/totp/confirm", post(manage::confirm))
        .route("/totp/recovery-codes", post(manage::renew_recovery_codes))
        .route("/login/second-factor", post(signin::second_factor))
}

/// Which factor a code proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proof {
    Totp,
    RecoveryCode,
}

impl Proof {
    fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// The `code` of a body: a TOTP code or a recovery code.
pub(super) fn code_field(body: &Map<String, Value>) -> Result<String, ApiError> {
    optional_code(body)?.ok_or_else(bad_code)
}

/// The `code` of a body that may leave it out (an enrolment while TOTP is off); one that is
/// there must still be a code.
pub(super) fn optional_code(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("code") {
        None => Ok(None),
        // Any 1 to 64 characters are a code to check (blank ones simply do not match).
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 64 => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => Err(bad_code()),
    }
}

pub(super) fn bad_code() -> ApiError {
    ApiError::new(
        ErrorCode::ValidationFailed,
        "The field `code` is required: a current code from the authenticator app, or a recovery code.",
        "Send `code` as a string of 6 digits, or one of the recovery codes (at most 64 characters).",
    )
    .with_field("code", "required", "The field `code` is required.")
}

fn invalid_factor() -> ApiError {
    ApiError::new(
        ErrorCode::SecondFactorInvalid,
        "The code is wrong, or it was already used.",
        "Enter the current code from the authenticator app (each code works once: wait for the next one), or an unused recovery code.",
    )
}

fn locked(until: &str) -> ApiError {
    let wait = time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339)
        .map(|at| (at - time::OffsetDateTime::now_utc()).whole_seconds() + 1)
        .unwrap_or(60)
        .max(1);
    let error = ApiError::new(
        ErrorCode::SecondFactorLocked,
        "Too many wrong codes for this account: the second factor is refused for a while.",
        "Wait for the time in Retry-After, then try again with a current code.",
    );
    match HeaderValue::from_str(&wait.to_string()) {
        Ok(value) => error.with_header(header::RETRY_AFTER, value),
        Err(_) => error,
    }
}

/// Checks `code` against the account's active factor and spends it: a TOTP code is accepted for
/// a time step later than the last accepted one, a recovery code once. A wrong (or replayed)
/// code counts towards the account's lock and is audited under `action`.
pub(super) async fn verify_factor(
    state: &AppState,
    user: &User,
    factor: &TotpFactor,
    code: &str,
    action: &str,
) -> Result<Proof, ApiError> {
    let now = fathom_schema::value::now_timestamp();
    if let Some(until) = factor.locked_until.as_deref().filter(|u| *u > now.as_str()) {
        audit(
            state,
            action,
            "denied",
            Some(user.id.to_string()),
            Some("second factor locked".into()),
        )
        .await;
        return Err(locked(until));
    }
    let settings = &state.auth.settings.totp;
    let secret = factor.secret.as_deref().ok_or_else(not_enabled)?;
    let (proof, reason) = if codes::is_totp_code(code) {
        let totp = codes::totp(secret, &settings.issuer, &user.email)?;
        match codes::matching_step(&totp, code) {
            Some(step) if state.store.accept_totp_step(user.id, step).await? => {
                (Some(Proof::Totp), "")
            }
            Some(_) => (None, "totp code replayed"),
            None => (None, "wrong totp code"),
        }
    } else if state
        .store
        .redeem_recovery_code(user.id, codes::recovery_hash(code))
        .await?
    {
        (Some(Proof::RecoveryCode), "")
    } else {
        (None, "wrong or used recovery code")
    };
    if let Some(proof) = proof {
        return Ok(proof);
    }
    let lock = state
        .store
        .record_totp_failure(
            user.id,
            i64::from(settings.account_attempts),
            timestamp_after(settings.lockout),
        )
        .await?;
    audit(
        state,
        action,
        "failure",
        Some(user.id.to_string()),
        Some(reason.into()),
    )
    .await;
    if lock.is_some() {
        let detail = format!(
            "{} wrong second factors; the second factor is refused for {} min",
            settings.account_attempts,
            settings.lockout.as_secs() / 60
        );
        audit(
            state,
            "second_factor_lockout",
            "denied",
            Some(user.id.to_string()),
            Some(detail),
        )
        .await;
    }
    Err(invalid_factor())
}

pub(super) fn not_enabled() -> ApiError {
    ApiError::new(
        ErrorCode::TotpNotEnabled,
        "This account has no TOTP second factor on.",
        "Enrol with POST /api/v1/auth/totp, then confirm with POST /api/v1/auth/totp/confirm.",
    )
}
