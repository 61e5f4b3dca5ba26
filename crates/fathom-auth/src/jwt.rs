//! Ed25519-signed access tokens (JWT, `alg: EdDSA`) with key rotation and a JWKS document.
//!
//! A [`KeyRing`] holds every key that may verify. The newest key that is not retired signs; a
//! retired key keeps verifying until the caller drops it from the ring (normally once the longest
//! access-token lifetime has passed since retirement), so rotation never logs anyone out.
//!
//! Verification accepts exactly one shape: header `alg: EdDSA`, `typ: JWT` and a `kid` found in
//! the ring, a valid signature, and claims with the configured issuer and audience. Time is
//! passed in (`now`, unix seconds) rather than read from the clock, and `exp`/`nbf` are checked
//! here against it: jsonwebtoken's own time checks read the system clock and are turned off.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize as _;

use crate::error::AuthError;
use crate::token::fill_random;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// One Ed25519 signing key, in the form it is stored.
///
/// `Debug` never prints the private key, and the private key bytes are wiped when the value is
/// dropped.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id, sent in every token header and published in the JWKS.
    pub kid: String,
    /// The private key as PKCS#8 v2 DER (with the public key embedded). Secret.
    pub private_pkcs8_der: Vec<u8>,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: [u8; 32],
    /// When the key was created, in unix seconds. The newest usable key signs.
    pub created_at: i64,
    /// When the key stopped signing, in unix seconds; `None` while it may sign.
    pub retired_at: Option<i64>,
}

impl SigningKey {
    /// A fresh key pair with a random 16-hex-digit key id, created at `now`.
    ///
    /// # Panics
    /// If the operating system cannot provide randomness.
    pub fn generate(now: i64) -> SigningKey {
        let mut seed = zeroize::Zeroizing::new([0_u8; 32]);
        fill_random(seed.as_mut());
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        // Encoding a valid 32-byte key into fixed-size PKCS#8 DER has no failure path in
        // practice; a failure would mean a broken build of the DER encoder.
        let document = key
            .to_pkcs8_der()
            .expect("encoding an Ed25519 key as PKCS#8 cannot fail");
        let mut kid_bytes = [0_u8; 8];
        fill_random(&mut kid_bytes);
        SigningKey {
            kid: kid_bytes.iter().map(|b| format!("{b:02x}")).collect(),
            private_pkcs8_der: document.as_bytes().to_vec(),
            public_key: key.verifying_key().to_bytes(),
            created_at: now,
            retired_at: None,
        }
    }

    /// Whether the key may sign at `now`: created at or before `now` and not yet retired.
    /// A key created in the future is published in the JWKS but does not sign yet, which lets
    /// verifiers cache it before the first token uses it.
    pub fn can_sign_at(&self, now: i64) -> bool {
        self.created_at <= now && self.retired_at.is_none_or(|retired| retired > now)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_pkcs8_der", &"<redacted>")
            .field("public_key", &URL_SAFE_NO_PAD.encode(self.public_key))
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.private_pkcs8_der.zeroize();
    }
}

/// How access tokens are issued and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written and required.
    pub audience: String,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Clock skew tolerated when checking `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl TokenConfig {
    /// The default access-token lifetime: 15 minutes.
    pub const DEFAULT_ACCESS_TTL_SECS: u64 = 900;
    /// The default clock-skew leeway: 30 seconds.
    pub const DEFAULT_LEEWAY_SECS: u64 = 30;

    /// A configuration with the given issuer and audience and the default lifetime and leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl_secs: Self::DEFAULT_ACCESS_TTL_SECS,
            leeway_secs: Self::DEFAULT_LEEWAY_SECS,
        }
    }
}

/// Who an access token is for: the claims the caller chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// The user id.
    pub sub: String,
    /// The user's roles.
    pub roles: Vec<String>,
    /// The tenant the token is scoped to, if any.
    pub tenant: Option<String>,
    /// Whether the user's email is verified.
    pub verified: bool,
    /// The session the token belongs to (lets a revoked session's tokens be refused).
    pub sid: String,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's roles.
    pub roles: Vec<String>,
    /// The tenant the token is scoped to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Whether the user's email is verified.
    pub verified: bool,
    /// The session id.
    pub sid: String,
    /// The issuer.
    pub iss: String,
    /// The audience (a single string; an array is refused).
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Not valid before, unix seconds.
    pub nbf: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// A unique token id.
    pub jti: String,
}

/// The keys that sign and verify access tokens.
pub struct KeyRing {
    /// Newest first.
    keys: Vec<RingKey>,
}

/// A ring entry with its keys parsed once.
struct RingKey {
    kid: String,
    public_key: [u8; 32],
    created_at: i64,
    retired_at: Option<i64>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl RingKey {
    fn can_sign_at(&self, now: i64) -> bool {
        self.created_at <= now && self.retired_at.is_none_or(|retired| retired > now)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|key| &key.kid))
            .finish()
    }
}

impl KeyRing {
    /// A ring over `keys`. Every key is checked: its private key must be PKCS#8 Ed25519, its
    /// public key must match, and key ids must be non-empty and unique.
    ///
    /// # Errors
    /// [`AuthError::InvalidKey`] naming the offending key id.
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, AuthError> {
        let mut seen = HashSet::new();
        let mut ring = Vec::with_capacity(keys.len());
        for key in &keys {
            if key.kid.is_empty() {
                return Err(AuthError::InvalidKey("a key has an empty kid".into()));
            }
            if !seen.insert(key.kid.as_str()) {
                return Err(AuthError::InvalidKey(format!("duplicate kid {}", key.kid)));
            }
            let private = ed25519_dalek::SigningKey::from_pkcs8_der(&key.private_pkcs8_der)
                .map_err(|_| {
                    AuthError::InvalidKey(format!("kid {} is not a PKCS#8 Ed25519 key", key.kid))
                })?;
            if private.verifying_key().to_bytes() != key.public_key {
                return Err(AuthError::InvalidKey(format!(
                    "kid {} has a public key that does not match its private key",
                    key.kid
                )));
            }
            ring.push(RingKey {
                kid: key.kid.clone(),
                public_key: key.public_key,
                created_at: key.created_at,
                retired_at: key.retired_at,
                encoding: EncodingKey::from_ed_der(&key.private_pkcs8_der),
                decoding: DecodingKey::from_ed_der(&key.public_key),
            });
        }
        ring.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.kid.cmp(&a.kid))
        });
        Ok(Self { keys: ring })
    }

    /// The key id that signs at `now`, if any.
    pub fn signing_kid(&self, now: i64) -> Option<&str> {
        self.keys
            .iter()
            .find(|key| key.can_sign_at(now))
            .map(|key| key.kid.as_str())
    }

    /// The ids of every key that verifies, newest first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }

    /// Issues an access token for `subject`, valid from `now` for `config.access_ttl_secs`.
    ///
    /// # Errors
    /// [`AuthError::NoSigningKey`] when no key may sign at `now`; [`AuthError::Signing`] when
    /// signing fails.
    pub fn issue(
        &self,
        config: &TokenConfig,
        subject: &TokenSubject,
        now: i64,
    ) -> Result<String, AuthError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.can_sign_at(now))
            .ok_or(AuthError::NoSigningKey)?;
        let ttl = i64::try_from(config.access_ttl_secs).unwrap_or(i64::MAX);
        let mut jti = [0_u8; 16];
        fill_random(&mut jti);
        let claims = Claims {
            sub: subject.sub.clone(),
            roles: subject.roles.clone(),
            tenant: subject.tenant.clone(),
            verified: subject.verified,
            sid: subject.sid.clone(),
            iss: config.issuer.clone(),
            aud: config.audience.clone(),
            exp: now.saturating_add(ttl),
            nbf: now,
            iat: now,
            jti: URL_SAFE_NO_PAD.encode(jti),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|error| AuthError::Signing(error.to_string()))
    }

    /// Verifies an access token at `now` and returns its claims.
    ///
    /// # Errors
    /// A token error ([`AuthError::kind`] is `InvalidToken` or `Expired`) for anything but a
    /// well-formed EdDSA token signed by a key in the ring, within its validity window, for the
    /// configured issuer and audience.
    pub fn verify(&self, config: &TokenConfig, token: &str, now: i64) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(AuthError::MalformedToken);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::MalformedToken)?;
        // Checked before any key is chosen: the header alone must never pick the algorithm
        // (no `none`, no HMAC keyed with our public key, no RSA).
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some("JWT") {
            return Err(AuthError::UnacceptedAlgorithm);
        }
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .ok_or(AuthError::UnknownKey)?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => AuthError::InvalidSignature,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidAlgorithm
                | ErrorKind::UnsupportedAlgorithm
                | ErrorKind::MissingAlgorithm => AuthError::UnacceptedAlgorithm,
                _ => AuthError::MalformedToken,
            })?
            .claims;

        // jsonwebtoken already compared these; the second check costs nothing and keeps the
        // guarantee independent of its option defaults.
        if claims.iss != config.issuer {
            return Err(AuthError::WrongIssuer);
        }
        if claims.aud != config.audience {
            return Err(AuthError::WrongAudience);
        }
        let leeway = i64::try_from(config.leeway_secs).unwrap_or(i64::MAX);
        if now >= claims.exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        if claims.nbf > now.saturating_add(leeway) {
            return Err(AuthError::NotYetValid);
        }
        // A correctly signed token may still claim a life this server never grants (a leaked
        // key, or a lifetime shortened since it was issued): it may last at most the configured
        // lifetime plus the leeway from the earlier of its `iat` and now.
        let ttl = i64::try_from(config.access_ttl_secs).unwrap_or(i64::MAX);
        let latest_exp = claims
            .iat
            .min(now)
            .saturating_add(ttl)
            .saturating_add(leeway);
        if claims.exp > latest_exp {
            return Err(AuthError::LifetimeTooLong);
        }
        Ok(claims)
    }

    /// The JSON Web Key Set of every verifying key (RFC 8037 `OKP` / `Ed25519`), newest first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(key.public_key),
                    "kid": key.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_hex_kids_and_matching_halves() {
        let key = SigningKey::generate(1_000);
        assert_eq!(key.kid.len(), 16);
        assert!(
            key.kid
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let private = ed25519_dalek::SigningKey::from_pkcs8_der(&key.private_pkcs8_der).unwrap();
        assert_eq!(private.verifying_key().to_bytes(), key.public_key);
        assert_ne!(SigningKey::generate(1_000).kid, key.kid);
    }

    #[test]
    fn debug_redacts_the_private_key() {
        let key = SigningKey::generate(1_000);
        let text = format!("{key:?}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(
            !text.contains(&format!("{:?}", key.private_pkcs8_der)),
            "{text}"
        );
        let ring = KeyRing::new(vec![key.clone()]).unwrap();
        assert_eq!(format!("{ring:?}"), format!("[{:?}]", key.kid));
    }

    #[test]
    fn ring_refuses_inconsistent_keys() {
        let a = SigningKey::generate(1_000);
        let mut b = SigningKey::generate(1_000);
        b.public_key = a.public_key;
        assert!(matches!(
            KeyRing::new(vec![b]),
            Err(AuthError::InvalidKey(_))
        ));

        let mut dup = SigningKey::generate(1_000);
        dup.kid.clone_from(&a.kid);
        assert!(matches!(
            KeyRing::new(vec![a.clone(), dup]),
            Err(AuthError::InvalidKey(_))
        ));

        let mut garbage = SigningKey::generate(1_000);
        garbage.private_pkcs8_der = vec![1, 2, 3];
        assert!(matches!(
            KeyRing::new(vec![garbage]),
            Err(AuthError::InvalidKey(_))
        ));

        let mut unnamed = SigningKey::generate(1_000);
        unnamed.kid.clear();
        assert!(matches!(
            KeyRing::new(vec![unnamed]),
            Err(AuthError::InvalidKey(_))
        ));
    }

    #[test]
    fn a_signed_token_claiming_a_longer_life_than_configured_is_refused() {
        let ring = KeyRing::new(vec![SigningKey::generate(0)]).unwrap();
        let mut config = TokenConfig::new("fathom", "fathom-api");
        let subject = TokenSubject {
            sub: "user".into(),
            roles: vec![],
            tenant: None,
            verified: false,
            sid: "session".into(),
        };
        let now = 1_000_000;
        let issued = ring.issue(&config, &subject, now).unwrap();
        assert!(ring.verify(&config, &issued, now).is_ok());
        // The same key issuing with a lifetime of a year, as a leaked key could.
        config.access_ttl_secs = 365 * 24 * 3600;
        let long = ring.issue(&config, &subject, now).unwrap();
        config.access_ttl_secs = TokenConfig::DEFAULT_ACCESS_TTL_SECS;
        assert_eq!(
            ring.verify(&config, &long, now),
            Err(AuthError::LifetimeTooLong)
        );
        assert_eq!(
            AuthError::LifetimeTooLong.kind(),
            crate::AuthErrorKind::InvalidToken
        );
        // Exactly the configured lifetime plus the leeway passes; one second more does not.
        let edge = (TokenConfig::DEFAULT_ACCESS_TTL_SECS + TokenConfig::DEFAULT_LEEWAY_SECS) as i64;
        config.access_ttl_secs = edge as u64;
        let at_edge = ring.issue(&config, &subject, now).unwrap();
        config.access_ttl_secs = edge as u64 + 1;
        let past_edge = ring.issue(&config, &subject, now).unwrap();
        config.access_ttl_secs = TokenConfig::DEFAULT_ACCESS_TTL_SECS;
        assert!(ring.verify(&config, &at_edge, now).is_ok());
        assert_eq!(
            ring.verify(&config, &past_edge, now),
            Err(AuthError::LifetimeTooLong)
        );
    }

    #[test]
    fn the_newest_usable_key_signs() {
        let old = SigningKey::generate(1_000);
        let new = SigningKey::generate(2_000);
        let future = SigningKey::generate(3_000);
        let mut retired = SigningKey::generate(2_500);
        retired.retired_at = Some(2_600);
        let ring = KeyRing::new(vec![
            old.clone(),
            future.clone(),
            retired.clone(),
            new.clone(),
        ])
        .unwrap();
        assert_eq!(ring.signing_kid(1_500), Some(old.kid.as_str()));
        assert_eq!(ring.signing_kid(2_000), Some(new.kid.as_str()));
        assert_eq!(ring.signing_kid(2_550), Some(retired.kid.as_str()));
        assert_eq!(ring.signing_kid(2_600), Some(new.kid.as_str()));
        assert_eq!(ring.signing_kid(3_000), Some(future.kid.as_str()));
        assert_eq!(ring.signing_kid(999), None);
        assert_eq!(ring.kids().count(), 4);
    }
}
