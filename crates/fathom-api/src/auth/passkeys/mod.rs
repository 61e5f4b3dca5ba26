//! Passkeys (WebAuthn) under `/api/v1/auth/passkeys`: a signed-in account registers passkeys
//! (`register`), lists and removes them (`manage`), and anyone signs in with one without typing
//! an email (`sign_in`: discoverable credentials, the account found from the credential's user
//! handle, which is the account id).
//!
//! The relying party is webauthn-rs (signatures, CBOR/COSE, client data, origins, counters);
//! this module owns the HTTP shapes and keeps each ceremony's state in the database between its
//! two requests (`fathom_store::CeremonyKind`), so any node can finish a ceremony another node
//! started, and taking the state deletes it, so a challenge is answered at most once.
//! Passkeys are off unless `[auth.passkeys]` names a relying party; every route then answers
//! 404 `passkeys_disabled`.

mod manage;
mod register;
mod sign_in;

use std::sync::Arc;
use std::time::Duration;

use fathom_core::ErrorCode;
use fathom_store::CeremonyKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{Webauthn, WebauthnBuilder, WebauthnError};

pub use manage::{list, remove};
pub use register::MAX_PASSKEYS;
pub use register::{finish as finish_registration, options as registration_options};
pub use sign_in::{finish as finish_sign_in, options as sign_in_options};

use crate::AppState;
use crate::error::ApiError;

/// The relying party: who passkeys are registered to, and from which web origins.
#[derive(Clone)]
pub struct PasskeySettings {
    /// The relying party id: the domain passkeys are bound to (`example.com`).
    pub rp_id: String,
    /// The name authenticators show beside the passkey.
    pub rp_name: String,
    /// Exactly the origins allowed to run the ceremonies (scheme, host and port).
    pub origins: Vec<Url>,
    /// How long a ceremony may take between its two requests.
    pub ceremony_ttl: Duration,
    relying_party: Arc<Webauthn>,
}

impl std::fmt::Debug for PasskeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySettings")
            .field("rp_id", &self.rp_id)
            .field("rp_name", &self.rp_name)
            .field("origins", &self.origins)
            .field("ceremony_ttl", &self.ceremony_ttl)
            .finish_non_exhaustive()
    }
}

impl PasskeySettings {
    /// Checks the relying party and builds it. Every origin must be `https` (or `http` on
    /// `localhost`, for development), and its host the relying party id or a subdomain of it,
    /// as WebAuthn requires; an error names what is wrong.
    pub fn new(
        rp_id: String,
        rp_name: String,
        origins: Vec<Url>,
        ceremony_ttl: Duration,
    ) -> Result<Self, String> {
        let Some(first) = origins.first() else {
            return Err("at least one origin is needed (`origins`)".into());
        };
        for origin in &origins {
            let host = origin.host_str().unwrap_or_default();
            let secure =
                origin.scheme() == "https" || (origin.scheme() == "http" && host == "localhost");
            if !secure {
                return Err(format!(
                    "the origin `{origin}` is not https (plain http is accepted for localhost only)"
                ));
            }
            if origin.path() != "/" || origin.query().is_some() || origin.fragment().is_some() {
                return Err(format!(
                    "the origin `{origin}` has a path, query or fragment: give scheme, host and port only"
                ));
            }
            if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
                return Err(format!(
                    "the origin `{origin}` is not on the relying party id `{rp_id}` or a subdomain of it"
                ));
            }
        }
        let mut builder = WebauthnBuilder::new(&rp_id, first)
            .map_err(|e| format!("the relying party is invalid: {e}"))?
            .rp_name(&rp_name)
            .timeout(ceremony_ttl);
        for origin in &origins[1..] {
            builder = builder.append_allowed_origin(origin);
        }
        let relying_party = builder
            .build()
            .map_err(|e| format!("the relying party is invalid: {e}"))?;
        Ok(Self {
            rp_id,
            rp_name,
            origins,
            ceremony_ttl,
            relying_party: Arc::new(relying_party),
        })
    }
}

/// How a credential id is stored and looked up: base64url without padding, as WebAuthn's JSON
/// carries it.
fn credential_key(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// The relying party, or 404 `passkeys_disabled` when passkeys are not configured.
fn relying_party(state: &AppState) -> Result<&PasskeySettings, ApiError> {
    state.auth.settings.passkeys.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::PasskeysDisabled,
            "Passkeys are not enabled on this server.",
            "An operator enables them with `[auth.passkeys]` (rp_id, origins) in fathom.toml.",
        )
    })
}

/// The answer to a ceremony id that is unknown, used, expired or of the other ceremony.
fn ceremony_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::PasskeyCeremonyInvalid,
        "This passkey ceremony is unknown, already finished or expired.",
        "Start again: ask for new options and answer them once, within the time they allow.",
    )
}

/// A required field of a ceremony body, decoded as `T`; 400 `validation_failed` otherwise, saying
/// what did not decode (the client's own input, so nothing to hide).
fn field<T: DeserializeOwned>(
    body: &Map<String, Value>,
    name: &str,
    shape: &str,
) -> Result<T, ApiError> {
    let decoded = match body.get(name) {
        Some(value) => serde_json::from_value(value.clone()).map_err(|e| format!(": {e}")),
        None => Err(String::new()),
    };
    decoded.map_err(|why| {
        ApiError::new(
            ErrorCode::ValidationFailed,
            format!("The field `{name}` is missing or is not {shape}{why}."),
            format!("Send `{name}` as {shape}."),
        )
        .with_field(name, "invalid", format!("`{name}` must be {shape}."))
    })
}

/// The ceremony id a finishing request names.
fn ceremony_id(body: &Map<String, Value>) -> Result<Uuid, ApiError> {
    field(
        body,
        "ceremony_id",
        "the `ceremony_id` from the options answer",
    )
}

/// Stores a ceremony's state and returns its id.
async fn save_ceremony<S: Serialize>(
    state: &AppState,
    kind: CeremonyKind,
    user: Option<Uuid>,
    ceremony: &S,
) -> Result<Uuid, ApiError> {
    let settings = relying_party(state)?;
    let saved = serde_json::to_string(ceremony)
        .map_err(|e| ApiError::internal(format!("serialising a passkey ceremony: {e}")))?;
    Ok(state
        .store
        .create_passkey_ceremony(kind, user, saved, settings.ceremony_ttl)
        .await?)
}

/// Takes a ceremony's state (single use) and decodes it.
async fn take_ceremony<S: DeserializeOwned>(
    state: &AppState,
    id: Uuid,
    kind: CeremonyKind,
) -> Result<(Option<Uuid>, S), ApiError> {
    let taken = state
        .store
        .take_passkey_ceremony(id, kind)
        .await?
        .ok_or_else(ceremony_invalid)?;
    let decoded = serde_json::from_str(&taken.state)
        .map_err(|e| ApiError::internal(format!("decoding a stored passkey ceremony: {e}")))?;
    Ok((taken.user_id, decoded))
}

/// The answer to a response webauthn-rs refused, by what it found. The cause is logged at debug
/// level (it names no secret), the answer says which check failed in stable terms.
fn refused(error: &WebauthnError) -> ApiError {
    tracing::debug!(cause = %error, "a passkey response was refused");
    match error {
        WebauthnError::InvalidRPOrigin
        | WebauthnError::InvalidRPIDHash
        | WebauthnError::CredentialCrossOrigin => ApiError::new(
            ErrorCode::PasskeyOriginMismatch,
            "The passkey response was made for an origin or relying party this server does not allow.",
            "Run the ceremony from one of the origins in `[auth.passkeys] origins`.",
        ),
        WebauthnError::CredentialPossibleCompromise => counter_regressed(),
        WebauthnError::CredentialNotFound => unknown_passkey(),
        WebauthnError::CredentialAlreadyExists | WebauthnError::CredentialExcludedFromRequest => {
            already_registered()
        }
        _ => ApiError::new(
            ErrorCode::PasskeyInvalid,
            "The passkey response does not verify.",
            "Answer the options of this ceremony with the authenticator, unchanged; if it persists, start again.",
        ),
    }
}

fn counter_regressed() -> ApiError {
    ApiError::new(
        ErrorCode::PasskeyCounterRegressed,
        "The authenticator's signature counter did not advance: the passkey may have been copied.",
        "Sign in another way and remove this passkey if you did not copy it; register a new one.",
    )
}

fn unknown_passkey() -> ApiError {
    ApiError::new(
        ErrorCode::PasskeyUnknown,
        "This passkey is not registered on this server, or it was removed.",
        "Sign in another way, or choose another passkey.",
    )
}

fn already_registered() -> ApiError {
    ApiError::new(
        ErrorCode::PasskeyAlreadyRegistered,
        "This passkey is already registered.",
        "Each authenticator holds one passkey per account; list them at GET /api/v1/auth/passkeys.",
    )
}
