//! Passkey storage: the WebAuthn credentials registered to accounts (`_fathom_passkeys`) and the
//! server-side state of ceremonies in flight (`_fathom_passkey_ceremonies`). The store keeps
//! what the relying party (`fathom-api`, webauthn-rs) serialised and never interprets it, except
//! for the signature counter, which it advances only forwards, so that two nodes finishing
//! sign-ins with one credential cannot both accept the same counter value.

use std::time::Duration;

use uuid::Uuid;

use crate::error::StoreError;
use crate::{Backend, Store};

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The credential id, base64url without padding (as WebAuthn's JSON carries it).
    pub credential_id: String,
    /// The name the account gave it.
    pub name: String,
    /// The relying party's serialised credential (public key, counter, flags).
    pub credential: String,
    /// The last signature counter accepted; 0 for authenticators that keep none.
    pub sign_count: i64,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// The fields of a passkey being registered.
#[derive(Debug, Clone)]
pub struct NewPasskey {
    pub user_id: Uuid,
    pub credential_id: String,
    pub name: String,
    pub credential: String,
    pub sign_count: i64,
}

/// Which ceremony a stored state belongs to: a state is only ever finished as its own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// A signed-in account adding a passkey.
    Registration,
    /// Anyone signing in with a discoverable passkey.
    SignIn,
}

impl CeremonyKind {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::SignIn => "sign_in",
        }
    }
}

/// A ceremony's state as taken by the request that finishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// The account a registration is for (`None` for sign-ins).
    pub user_id: Option<Uuid>,
    pub state: String,
}

/// What removing a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRemoval {
    Removed,
    /// The account has no passkey with this id.
    NotFound,
    /// It is the account's last passkey and the caller asked to keep the last one.
    LastSignInMethod,
}

/// A ceremony's time to live in whole milliseconds, at least one.
pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// Runs `$body` as a write or a read (`backend_call`), with `sql::` naming the backend's passkey
/// functions.
macro_rules! dispatch {
    (write $store:expr, |$conn:ident| $body:expr) => {
        crate::backend_call::write_with!($store, { passkeys as sql }, |$conn| $body)
    };
    (read $store:expr, |$conn:ident| $body:expr) => {
        crate::backend_call::read_with!($store, { passkeys as sql }, |$conn| $body)
    };
}

impl Store {
    /// Stores a ceremony's state for `ttl` and returns its id, the handle the client sends back
    /// to finish it. Expired ceremonies are deleted on the way.
    pub async fn create_passkey_ceremony(
        &self,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
        state: String,
        ttl: Duration,
    ) -> Result<Uuid, StoreError> {
        let ttl = ttl_ms(ttl);
        dispatch!(write self, |conn| sql::create_ceremony(conn, kind, user_id, &state, ttl))
    }

    /// Takes (deletes and returns) the live ceremony `id` of `kind`: exactly one concurrent
    /// caller gets it, on any node; unknown, expired, used or other-kind ids give `None`.
    pub async fn take_passkey_ceremony(
        &self,
        id: Uuid,
        kind: CeremonyKind,
    ) -> Result<Option<Ceremony>, StoreError> {
        dispatch!(write self, |conn| sql::take_ceremony(conn, id, kind))
    }

    /// Stores a newly registered passkey; a credential id already registered (to anyone) is a
    /// unique violation on `credential_id`.
    pub async fn add_passkey(&self, passkey: NewPasskey) -> Result<StoredPasskey, StoreError> {
        dispatch!(write self, |conn| sql::add(conn, &passkey))
    }

    /// The passkeys of an account, oldest first.
    pub async fn passkeys(&self, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        dispatch!(read self, |conn| sql::of_user(conn, user_id))
    }

    /// The passkey with this credential id (base64url), whoever it belongs to.
    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let credential_id = credential_id.to_owned();
        dispatch!(read self, |conn| sql::by_credential(conn, &credential_id))
    }

    /// How many passkeys an account has: one of its ways to sign in.
    pub async fn passkey_count(&self, user_id: Uuid) -> Result<u64, StoreError> {
        dispatch!(read self, |conn| sql::count(conn, user_id))
    }

    /// Records a sign-in with passkey `id`: stores the updated credential and `sign_count`, and
    /// the time. Returns `false`, changing nothing, when the counter would not move forwards
    /// (another sign-in already accepted this value or a later one), except for authenticators
    /// that keep no counter (stored and presented counters both 0).
    pub async fn record_passkey_use(
        &self,
        id: Uuid,
        credential: String,
        sign_count: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(write self, |conn| sql::record_use(conn, id, &credential, sign_count))
    }

    /// Removes passkey `id` of `user_id`. With `keep_last`, the account's last passkey is kept
    /// (`LastSignInMethod`): the count and the delete are one step on SQLite's writer, and on
    /// PostgreSQL the account's row is locked first, so two removals racing for the last two
    /// passkeys cannot both succeed.
    pub async fn remove_passkey(
        &self,
        user_id: Uuid,
        id: Uuid,
        keep_last: bool,
    ) -> Result<PasskeyRemoval, StoreError> {
        dispatch!(write self, |conn| sql::remove(conn, user_id, id, keep_last))
    }
}
