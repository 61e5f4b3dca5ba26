//! The field-encryption key ring and its two primitives: an AEAD for encrypted fields and a keyed
//! HMAC-SHA256 for their blind indexes.
//!
//! A stored value reads `fe1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`: the version
//! prefix says how to read the rest, and the key id which key of the ring opens it. Each data key
//! names its AEAD on its key-file line, as Tink's keysets do: AES-256-GCM-SIV (the default of new
//! keys: AES-NI and carry-less multiplication make it about five times cheaper than XChaCha20 on
//! the short values fields hold, see docs/ENCRYPTION.md) with a 96-bit nonce, or
//! XChaCha20-Poly1305 (keys written before, whose lines name no AEAD) with a 192-bit nonce. Both
//! nonces are drawn at random afresh for every value; GCM-SIV also stays safe should two draws
//! ever repeat (it is nonce-misuse resistant: a repeat reveals only that two identical values
//! of the same place are identical). The
//! associated data binds the value to its place: `fathom-field-v1 ∅ key id ∅ collection ∅ field
//! ∅ record id` (∅ a zero byte, which no name or id contains), so a ciphertext copied to another
//! row, field or collection does not open. A blind index is
//! `HMAC-SHA256(blind key, "fathom-blind-v1" ∅ collection ∅ field ∅ value)` in base64url, under
//! a key of its own, so equal values in one field compare equal and nothing else is revealed.
//!
//! Keys come from a key file (see [`KeyRing::parse`]), never from the database or the schema.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm_siv::Aes256GcmSiv;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The version prefix of every stored ciphertext.
pub const CIPHERTEXT_PREFIX: &str = "fe1:";
/// The longest nonce (XChaCha20's); AES-256-GCM-SIV uses the first 12 bytes of a draw.
const NONCE_LEN: usize = 24;
const SIV_NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// How a key-file line names each AEAD.
const AES_GCM_SIV: &str = "aes-256-gcm-siv";
const XCHACHA: &str = "xchacha20-poly1305";
const AAD_LABEL: &[u8] = b"fathom-field-v1";
const BLIND_LABEL: &[u8] = b"fathom-blind-v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a key file cannot be used. Messages name the line, never a key's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the key file holds no `data` key; add one with `fathom keys new-data-key`")]
    NoDataKey,
}

/// Why a stored value cannot be opened (or a value sealed). Never carries plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the stored value is not a Fathom ciphertext (no `fe1:` prefix, or truncated)")]
    Malformed,
    #[error("the stored value names key `{0}`, which the key ring does not hold")]
    UnknownKey(String),
    #[error("the stored value does not authenticate under key `{0}` (altered, moved or truncated)")]
    Tampered(String),
    #[error("the key ring has no blind-index key")]
    NoBlindKey,
    #[error("the system's random number generator failed")]
    Random,
}

/// One 256-bit key, wiped from memory when dropped.
struct Secret(Zeroizing<[u8; 32]>);

/// A data key, ready to seal and open with the AEAD its key-file line names.
enum DataCipher {
    AesGcmSiv(Box<Aes256GcmSiv>),
    XChaCha(XChaCha20Poly1305),
}

impl DataCipher {
    /// The key for `aead` (a key-file line's fourth word; none means XChaCha20-Poly1305).
    fn new(aead: Option<&str>, key: &Secret) -> Result<Self, String> {
        match aead {
            Some(AES_GCM_SIV) => Ok(Self::AesGcmSiv(Box::new(Aes256GcmSiv::new(
                &(*key.0).into(),
            )))),
            None | Some(XCHACHA) => Ok(Self::XChaCha(XChaCha20Poly1305::new(&(*key.0).into()))),
            Some(other) => Err(format!(
                "unknown AEAD `{other}`; use `{AES_GCM_SIV}` or `{XCHACHA}`"
            )),
        }
    }

    fn nonce_len(&self) -> usize {
        match self {
            Self::AesGcmSiv(_) => SIV_NONCE_LEN,
            Self::XChaCha(_) => NONCE_LEN,
        }
    }

    /// Encrypts under `nonce` (of [`DataCipher::nonce_len`] bytes); `None` if the AEAD refuses.
    fn encrypt(&self, nonce: &[u8], payload: Payload<'_, '_>) -> Option<Vec<u8>> {
        match self {
            Self::AesGcmSiv(cipher) => cipher
                .encrypt(&aes_gcm_siv::Nonce::try_from(nonce).ok()?, payload)
                .ok(),
            Self::XChaCha(cipher) => cipher.encrypt(&XNonce::try_from(nonce).ok()?, payload).ok(),
        }
    }

    /// Decrypts and authenticates; `None` if the value does not authenticate.
    fn decrypt(&self, nonce: &[u8], payload: Payload<'_, '_>) -> Option<Vec<u8>> {
        match self {
            Self::AesGcmSiv(cipher) => cipher
                .decrypt(&aes_gcm_siv::Nonce::try_from(nonce).ok()?, payload)
                .ok(),
            Self::XChaCha(cipher) => cipher.decrypt(&XNonce::try_from(nonce).ok()?, payload).ok(),
        }
    }
}

/// The keys of one deployment: data keys by id (the last one listed writes) and at most one
/// blind-index key.
pub struct KeyRing {
    data: BTreeMap<String, DataCipher>,
    writing: String,
    blind: Option<Secret>,
}

impl fmt::Debug for KeyRing {
    /// Ids only: a key ring never prints a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("data", &self.data.keys().collect::<Vec<_>>())
            .field("writing", &self.writing)
            .field("blind", &self.blind.is_some())
            .finish()
    }
}

/// Whether `id` is a usable key id: 1 to 32 of `[A-Za-z0-9_-]` (never `:`, which ends it in a
/// ciphertext).
fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl KeyRing {
    /// Reads a key file: one key a line, `data <id> <base64 of 32 bytes>` or
    /// `blind <id> <base64 of 32 bytes>`; blank lines and lines starting with `#` are ignored.
    /// The last `data` key writes; every `data` key reads. At most one `blind` key.
    pub fn parse(text: &str) -> Result<Self, KeyRingError> {
        let mut data = BTreeMap::new();
        let mut writing = None;
        let mut blind = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let bad = |message: String| KeyRingError::Line { line, message };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = trimmed.split_whitespace().collect();
            let (kind, id, encoded, aead) = match parts.as_slice() {
                [kind, id, encoded] => (kind, id, encoded, None),
                [kind, id, encoded, aead] => (kind, id, encoded, Some(*aead)),
                _ => {
                    return Err(bad(format!(
                        "expected `data <id> <base64 key> [{AES_GCM_SIV}|{XCHACHA}]` or `blind <id> <base64 key>`"
                    )));
                }
            };
            if !valid_id(id) {
                return Err(bad(format!(
                    "key id `{id}` must be 1 to 32 letters, digits, `_` or `-`"
                )));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(encoded)
                    .map_err(|_| bad(format!("the key `{id}` is not valid base64")))?,
            );
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                bad(format!(
                    "the key `{id}` must be 32 bytes, it has {}",
                    bytes.len()
                ))
            })?;
            let key = Secret(Zeroizing::new(key));
            match *kind {
                "data" => {
                    if data.contains_key(*id) {
                        return Err(bad(format!("the data key id `{id}` appears twice")));
                    }
                    let cipher = DataCipher::new(aead, &key).map_err(bad)?;
                    data.insert((*id).to_owned(), cipher);
                    writing = Some((*id).to_owned());
                }
                "blind" => {
                    if let Some(aead) = aead {
                        return Err(bad(format!(
                            "a `blind` key names no AEAD (it is an HMAC key), not `{aead}`"
                        )));
                    }
                    if blind.is_some() {
                        return Err(bad(
                            "a second `blind` key: blind indexes use one key for good".into(),
                        ));
                    }
                    blind = Some(key);
                }
                other => {
                    return Err(bad(format!(
                        "unknown key kind `{other}`; use `data` or `blind`"
                    )));
                }
            }
        }
        let writing = writing.ok_or(KeyRingError::NoDataKey)?;
        Ok(Self {
            data,
            writing,
            blind,
        })
    }

    /// A new key file's text: one data key named `id` (AES-256-GCM-SIV) and one blind key,
    /// from the system's random number generator.
    pub fn generate_file(id: &str) -> Result<String, CryptoError> {
        Ok(format!(
            "# Fathom field-encryption keys. Keep this file out of the database, the schema and\n\
             # version control; without it encrypted values cannot be read.\n\
             # The last `data` key encrypts new values; every `data` key still decrypts.\n\
             {}\nblind blind-1 {}\n",
            Self::data_key_line(id)?,
            new_key()?
        ))
    }

    /// A key-file line holding a new random data key named `id`, for AES-256-GCM-SIV.
    pub fn data_key_line(id: &str) -> Result<String, CryptoError> {
        Ok(format!("data {id} {} {AES_GCM_SIV}", new_key()?))
    }

    /// The id of the key new values are encrypted with.
    pub fn writing_key(&self) -> &str {
        &self.writing
    }

    /// Whether the ring holds the data key `id`.
    pub fn has_key(&self, id: &str) -> bool {
        self.data.contains_key(id)
    }

    /// Every data key id, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        self.data.keys().cloned().collect()
    }

    /// Encrypts `plaintext` as the value of `collection.field` in record `record`.
    pub fn seal(
        &self,
        collection: &str,
        field: &str,
        record: &str,
        plaintext: &str,
    ) -> Result<String, CryptoError> {
        let cipher = self
            .data
            .get(&self.writing)
            .ok_or_else(|| CryptoError::UnknownKey(self.writing.clone()))?;
        let drawn = draw_nonce()?;
        let nonce = &drawn[..cipher.nonce_len()];
        let aad = associated_data(&self.writing, collection, field, record);
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .ok_or_else(|| CryptoError::Tampered(self.writing.clone()))?;
        let mut body = Vec::with_capacity(nonce.len() + sealed.len());
        body.extend_from_slice(nonce);
        body.extend_from_slice(&sealed);
        Ok(format!(
            "{CIPHERTEXT_PREFIX}{}:{}",
            self.writing,
            URL_SAFE_NO_PAD.encode(body)
        ))
    }

    /// Decrypts a value [`KeyRing::seal`] produced for the same collection, field and record.
    pub fn open(
        &self,
        collection: &str,
        field: &str,
        record: &str,
        stored: &str,
    ) -> Result<String, CryptoError> {
        let (id, body) = split(stored).ok_or(CryptoError::Malformed)?;
        let cipher = self
            .data
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if body.len() < cipher.nonce_len() + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = body.split_at(cipher.nonce_len());
        let aad = associated_data(id, collection, field, record);
        let plain = cipher
            .decrypt(
                nonce,
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok_or_else(|| CryptoError::Tampered(id.to_owned()))?;
        String::from_utf8(plain).map_err(|_| CryptoError::Tampered(id.to_owned()))
    }

    /// The blind index of `value` in `collection.field`.
    pub fn blind(&self, collection: &str, field: &str, value: &str) -> Result<String, CryptoError> {
        let key = self.blind.as_ref().ok_or(CryptoError::NoBlindKey)?;
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&key.0[..])
            .map_err(|_| CryptoError::NoBlindKey)?;
        for part in [BLIND_LABEL, collection.as_bytes(), field.as_bytes()] {
            mac.update(part);
            mac.update(&[0]);
        }
        mac.update(value.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Whether the ring can compute blind indexes.
    pub fn has_blind_key(&self) -> bool {
        self.blind.is_some()
    }
}

/// The key id a stored ciphertext names, if it is one.
pub fn key_id_of(stored: &str) -> Option<&str> {
    split(stored).map(|(id, _)| id)
}

fn split(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(CIPHERTEXT_PREFIX)?.split_once(':')
}

fn associated_data(key: &str, collection: &str, field: &str, record: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(
        AAD_LABEL.len() + key.len() + collection.len() + field.len() + record.len() + 4,
    );
    for part in [
        AAD_LABEL,
        key.as_bytes(),
        collection.as_bytes(),
        field.as_bytes(),
    ] {
        aad.extend_from_slice(part);
        aad.push(0);
    }
    aad.extend_from_slice(record.as_bytes());
    aad
}

/// A fresh 192-bit nonce from the system's random number generator: every [`KeyRing::seal`]
/// draws one, so no two values are sealed under the same nonce (a repeat among 2^96 draws is
/// expected only once; tests check a million draws and the nonces of real seals).
fn draw_nonce() -> Result<[u8; NONCE_LEN], CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    Ok(nonce)
}

/// 32 random bytes in base64, for a key file.
fn new_key() -> Result<String, CryptoError> {
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut key[..]).map_err(|_| CryptoError::Random)?;
    Ok(STANDARD.encode(&key[..]))
}

#[cfg(test)]
mod tests;
