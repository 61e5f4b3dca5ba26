//! TOTP second-factor storage (issue 19 part 2): the account's secret (active and pending), the
//! last accepted time step, the failure count and lock, recovery codes (hashes) and sign-in
//! challenges (hashes), on both backends.
//!
//! Secrets never reach the database in clear. With a field-encryption key ring they are sealed
//! like an encrypted field (`fe1:`, bound to `_fathom_totp.secret` of the account); without one,
//! with XChaCha20-Poly1305 under a server key kept in `_fathom_secrets` (`ts1:`, bound to the
//! account too), so a copied row does not open for another account. Each is opened with what
//! sealed it, so adding a key ring later keeps earlier secrets readable.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::crypto::CIPHERTEXT_PREFIX;
use crate::error::{StoreError, StoreErrorKind};
use crate::{Backend, Store};

/// The prefix of a secret sealed with the server key.
const SERVER_SEALED: &str = "ts1:";
/// The name of the server key in `_fathom_secrets`.
const SEAL_KEY: &str = "totp_seal";
/// Where a ring-sealed secret says it belongs (the associated data of the field AEAD).
const TABLE: &str = "_fathom_totp";
const FIELD: &str = "secret";
const AAD_LABEL: &[u8] = b"fathom-totp-v1";
const NONCE_LEN: usize = 24;

/// A TOTP row as stored: secrets still sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct RawTotp {
    pub secret: Option<String>,
    pub pending: Option<String>,
    pub pending_expires_at: Option<String>,
    pub enabled_at: Option<String>,
    pub last_step: Option<i64>,
    pub failures: i64,
    pub locked_until: Option<String>,
    pub recovery_left: i64,
}

impl std::fmt::Debug for RawTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTotp")
            .field("enabled_at", &self.enabled_at)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// An account's TOTP factor, secrets opened (base32). Its `Debug` never shows them.
#[derive(Clone)]
pub struct TotpFactor {
    /// The active secret; `None` while the factor is not on.
    pub secret: Option<Zeroizing<String>>,
    /// The secret awaiting its confirming code, unless it has expired.
    pub pending: Option<Zeroizing<String>>,
    /// The pending secret as stored: what [`Store::confirm_totp`] checks it is still pending.
    pub pending_sealed: Option<String>,
    pub enabled_at: Option<String>,
    pub last_step: Option<i64>,
    /// Wrong second factors since the last accepted one.
    pub failures: i64,
    /// Until when second factors are refused (canonical timestamp), after too many failures.
    pub locked_until: Option<String>,
    /// Unused recovery codes.
    pub recovery_left: i64,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("enabled", &self.secret.is_some())
            .field("pending", &self.pending.is_some())
            .field("enabled_at", &self.enabled_at)
            .field("failures", &self.failures)
            .field("locked_until", &self.locked_until)
            .field("recovery_left", &self.recovery_left)
            .finish_non_exhaustive()
    }
}

impl TotpFactor {
    /// Whether sign-in asks for the second factor.
    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }
}

/// Runs `body` as one write (`backend_call`), with `sql::` naming the backend's TOTP functions.
macro_rules! on_writer {
    ($store:expr, |$conn:ident| $body:expr) => {
        crate::backend_call::write_with!($store, { totp as sql }, |$conn| $body)
    };
}

fn random_nonce() -> Result<[u8; NONCE_LEN], StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|e| StoreError::internal(format!("the OS random source failed: {e}")))?;
    Ok(nonce)
}

fn associated_data(user: &str) -> Vec<u8> {
    [AAD_LABEL, &[0], user.as_bytes()].concat()
}

fn unreadable() -> StoreError {
    StoreError::internal(
        "a stored TOTP secret does not open (altered, or sealed under a key this server does not hold)",
    )
}

impl Store {
    async fn seal_key(&self) -> Result<XChaCha20Poly1305, StoreError> {
        let key = Zeroizing::new(self.secret(SEAL_KEY).await?);
        Ok(XChaCha20Poly1305::new(&(*key).into()))
    }

    /// Seals a base32 secret for `user`: under the key ring when there is one, else the server key.
    async fn seal_totp(&self, user: Uuid, plain: &str) -> Result<String, StoreError> {
        let id = user.hyphenated().to_string();
        if let Some(ring) = self.key_ring() {
            return ring
                .seal(TABLE, FIELD, &id, plain)
                .map_err(|e| StoreError::new(StoreErrorKind::Internal, e.to_string()));
        }
        let cipher = self.seal_key().await?;
        let nonce = random_nonce()?;
        let aad = associated_data(&id);
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::internal("sealing a TOTP secret failed"))?;
        let body = [nonce.as_slice(), &sealed].concat();
        Ok(format!("{SERVER_SEALED}{}", URL_SAFE_NO_PAD.encode(body)))
    }

    /// Opens what [`Store::seal_totp`] sealed for `user`.
    async fn open_totp(&self, user: Uuid, stored: &str) -> Result<Zeroizing<String>, StoreError> {
        let id = user.hyphenated().to_string();
        if stored.starts_with(CIPHERTEXT_PREFIX) {
            let ring = self.key_ring().ok_or_else(unreadable)?;
            return ring
                .open(TABLE, FIELD, &id, stored)
                .map(Zeroizing::new)
                .map_err(|_| unreadable());
        }
        let body = stored
            .strip_prefix(SERVER_SEALED)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(unreadable)?;
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| unreadable())?;
        let plain = self
            .seal_key()
            .await?
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: &associated_data(&id),
                },
            )
            .map_err(|_| unreadable())?;
        String::from_utf8(plain)
            .map(Zeroizing::new)
            .map_err(|_| unreadable())
    }

    /// The account's TOTP row as stored.
    async fn raw_totp(&self, user: Uuid) -> Result<Option<RawTotp>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .read(move |conn| crate::sqlite::totp::factor(conn, user))
                    .await
            }
            Backend::Postgres(p) => {
                let client = p.client().await?;
                crate::postgres::totp::factor(&client, user).await
            }
        }
    }

    /// Whether the account has TOTP on (read on every password sign-in: opens no secret).
    pub async fn totp_enabled(&self, user: Uuid) -> Result<bool, StoreError> {
        Ok(self
            .raw_totp(user)
            .await?
            .is_some_and(|raw| raw.secret.is_some()))
    }

    /// The account's TOTP factor, secrets opened; `None` when it never enrolled.
    pub async fn totp_factor(&self, user: Uuid) -> Result<Option<TotpFactor>, StoreError> {
        let Some(raw) = self.raw_totp(user).await? else {
            return Ok(None);
        };
        let now = fathom_schema::value::now_timestamp();
        let secret = match &raw.secret {
            Some(sealed) => Some(self.open_totp(user, sealed).await?),
            None => None,
        };
        let live = raw
            .pending_expires_at
            .as_deref()
            .is_some_and(|until| until > now.as_str());
        let pending_sealed = raw.pending.filter(|_| live);
        let pending = match &pending_sealed {
            Some(sealed) => Some(self.open_totp(user, sealed).await?),
            None => None,
        };
        Ok(Some(TotpFactor {
            secret,
            pending,
            pending_sealed,
            enabled_at: raw.enabled_at,
            last_step: raw.last_step,
            failures: raw.failures,
            locked_until: raw.locked_until,
            recovery_left: raw.recovery_left,
        }))
    }

    /// Stores `secret` (base32) as the account's pending secret until `expires_at`; an active
    /// secret stays on until the pending one is confirmed.
    pub async fn begin_totp(
        &self,
        user: Uuid,
        secret: &str,
        expires_at: String,
    ) -> Result<(), StoreError> {
        let sealed = self.seal_totp(user, secret).await?;
        on_writer!(self, |conn| sql::set_pending(
            conn,
            user,
            &sealed,
            &expires_at
        ))
    }

    /// Turns the pending secret (`pending_sealed`, as read) on with `step` accepted and
    /// `recovery_hashes` as the recovery codes; `false` when it is no longer pending.
    pub async fn confirm_totp(
        &self,
        user: Uuid,
        pending_sealed: String,
        step: i64,
        recovery_hashes: Vec<String>,
    ) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::confirm(
            conn,
            user,
            &pending_sealed,
            step,
            &recovery_hashes
        ))
    }

    /// Turns the factor off: secret, recovery codes and open challenges go. `true` if it existed.
    pub async fn disable_totp(&self, user: Uuid) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::disable(conn, user))
    }

    /// Replaces the account's recovery codes.
    pub async fn replace_recovery_codes(
        &self,
        user: Uuid,
        hashes: Vec<String>,
    ) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::replace_recovery_codes(
            conn, user, &hashes
        ))
    }

    /// Accepts the code of time step `step` once: `false` when it, or a later step, was
    /// already accepted (a replay, refused on every node sharing the database).
    pub async fn accept_totp_step(&self, user: Uuid, step: i64) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::accept_step(conn, user, step))
    }

    /// Spends the recovery code whose hash is `hash`: exactly one concurrent caller gets `true`.
    pub async fn redeem_recovery_code(&self, user: Uuid, hash: String) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::redeem_recovery_code(conn, user, &hash))
    }

    /// Counts a wrong second factor; returns the lock's end when this failure reached
    /// `threshold` and locked the factor until `lock_until`.
    pub async fn record_totp_failure(
        &self,
        user: Uuid,
        threshold: i64,
        lock_until: String,
    ) -> Result<Option<String>, StoreError> {
        on_writer!(self, |conn| sql::record_failure(
            conn,
            user,
            threshold,
            &lock_until
        ))
    }

    /// Stores a sign-in challenge for `user` by the hash of its token.
    pub async fn create_totp_challenge(
        &self,
        hash: String,
        user: Uuid,
        expires_at: String,
    ) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::create_challenge(
            conn,
            &hash,
            user,
            &expires_at
        ))
    }

    /// Takes one of the `max` attempts of a live challenge; its user, or `None` when the
    /// challenge is unknown, expired, spent or out of attempts.
    pub async fn take_totp_challenge_attempt(
        &self,
        hash: String,
        max: i64,
    ) -> Result<Option<Uuid>, StoreError> {
        on_writer!(self, |conn| sql::take_attempt(conn, &hash, max))
    }

    /// Spends a challenge after its second factor was accepted: one caller gets `true`.
    pub async fn consume_totp_challenge(&self, hash: String) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::consume_challenge(conn, &hash))
    }
}
