//! Identity storage: users, sessions (each the family of its refresh tokens), single-use tokens,
//! signing keys (the audit log is `audit.rs`). Every redemption of a single-use secret is one conditional
//! UPDATE on the single writer, so concurrent redemptions of one token yield exactly one success.

use uuid::Uuid;

use crate::error::StoreError;
use crate::{Backend, Store};

/// A user account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    /// Lowercased.
    pub email: String,
    /// Argon2id PHC string. Never serialised to clients.
    pub password_hash: String,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    pub verified: bool,
    pub disabled: bool,
    /// Failed logins since the last success (counted across IPs).
    pub failed_logins: i64,
    /// Until when logins are refused (canonical timestamp), after too many failures.
    pub locked_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    /// Profile fields the schema's `[users]` table declares, already validated.
    pub profile: serde_json::Map<String, serde_json::Value>,
}

/// The fields of a new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    pub verified: bool,
}

/// What an administrator may change on a user. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub verified: Option<bool>,
    /// `Some(None)` clears the tenant.
    pub tenant: Option<Option<String>>,
}

/// What an account may do right now: the part of a user that decides access. Read with every
/// session check, so a change to the account (roles, tenant, verification) applies to access
/// tokens issued before it, instead of waiting for them to expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    pub verified: bool,
}

/// The account that created an API key, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCreator {
    pub roles: Vec<String>,
    pub disabled: bool,
}

/// A login session: the family of refresh tokens issued from one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: String,
    /// The absolute end of the session, whatever the refreshes.
    pub expires_at: String,
    pub last_used_at: String,
    pub revoked_at: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// What redeeming a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The token was live: it is now used, and the new token (already stored) continues the family.
    Rotated {
        session: Box<Session>,
        user: Box<User>,
    },
    /// The token had already been used: the whole family (session) is now revoked.
    Reused { session_id: Uuid, user_id: Uuid },
    /// Unknown token, or its session is revoked or expired, or the user is disabled.
    Invalid,
}

/// A stored Ed25519 signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A service's API key as stored: the visible prefix and the hash of the whole key, never the
/// key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub prefix: String,
    /// Hex SHA-256 of the full key.
    pub hash: String,
    pub name: String,
    /// What the key may do, as `collection:operation,...` texts (interpreted by the API).
    pub scopes: Vec<String>,
    /// The tenant the key acts in; `None` reaches every tenant.
    pub tenant: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// The administrator who created the key through the API; `None` for a key made by the
    /// operator with `fathom keys create` (or before creators were recorded).
    pub created_by: Option<Uuid>,
    /// The creator's account as it is when the key is read (`None` when there is no creator or
    /// the account no longer exists; ignored when a key is stored). The API decides from it
    /// whether the key is suspended.
    pub creator: Option<KeyCreator>,
}

/// Runs a write (`backend_call`), with `sql::` and `api_keys::` naming the backend's functions.
macro_rules! on_writer {
    ($store:expr, |$conn:ident| $body:expr) => {
        crate::backend_call::write_with!($store, { api_keys, identity as sql }, |$conn| $body)
    };
}

/// Runs a read (`backend_call`), with `sql::` and `api_keys::` naming the backend's functions.
macro_rules! on_reader {
    ($store:expr, |$conn:ident| $body:expr) => {
        crate::backend_call::read_with!($store, { api_keys, identity as sql }, |$conn| $body)
    };
}

// The OAuth store methods (`oauth.rs`) run on the same two macros.
pub(crate) use {on_reader, on_writer};

impl Store {
    /// Creates a user; a taken email is a unique violation on `email`.
    pub async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        on_writer!(self, |conn| sql::create_user(conn, &user))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_lowercase();
        on_reader!(self, |conn| sql::user_where(conn, "email", &email))
    }

    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        on_reader!(self, |conn| sql::user_where(
            conn,
            "id",
            &id.hyphenated().to_string()
        ))
    }

    /// Counts a failed login; when the count reaches `threshold`, locks logins until `lock_until`.
    pub async fn record_login_failure(
        &self,
        user_id: Uuid,
        threshold: i64,
        lock_until: String,
    ) -> Result<User, StoreError> {
        on_writer!(self, |conn| sql::record_login_failure(
            conn,
            user_id,
            threshold,
            &lock_until
        ))
    }

    /// Clears the failure count after a successful login, storing a fresher hash if given.
    pub async fn record_login_success(
        &self,
        user_id: Uuid,
        rehashed: Option<String>,
    ) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::record_login_success(
            conn,
            user_id,
            rehashed.as_deref()
        ))
    }

    /// Starts a session whose first refresh token has hash `refresh_hash`.
    pub async fn create_session(
        &self,
        user_id: Uuid,
        refresh_hash: String,
        expires_at: String,
        user_agent: Option<String>,
        ip: Option<String>,
    ) -> Result<Session, StoreError> {
        on_writer!(self, |conn| sql::create_session(
            conn,
            user_id,
            &refresh_hash,
            &expires_at,
            user_agent.as_deref(),
            ip.as_deref()
        ))
    }

    /// Redeems the refresh token with hash `hash`, replacing it with `next_hash` in one step.
    pub async fn rotate_refresh(
        &self,
        hash: String,
        next_hash: String,
    ) -> Result<RefreshOutcome, StoreError> {
        on_writer!(self, |conn| sql::rotate_refresh(conn, &hash, &next_hash))
    }

    /// Revokes one session of `user_id`. Returns whether it was live.
    pub async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        reason: &'static str,
    ) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::revoke_session(
            conn, user_id, session_id, reason
        ))
    }

    /// Revokes every live session of `user_id` except `keep`. Returns how many.
    pub async fn revoke_sessions(
        &self,
        user_id: Uuid,
        keep: Option<Uuid>,
        reason: &'static str,
    ) -> Result<usize, StoreError> {
        on_writer!(self, |conn| sql::revoke_sessions(
            conn, user_id, keep, reason
        ))
    }

    /// The account's current authority when `session_id` of `user_id` is live (not revoked,
    /// not expired, its user not disabled), else `None`. Checked on every authenticated request,
    /// so ending a session ends its access tokens at once, and the roles, tenant and
    /// verification a request acts on are the account's, not the token's.
    pub async fn live_session_authority(
        &self,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<Option<Authority>, StoreError> {
        on_reader!(self, |conn| sql::live_session_authority(
            conn, user_id, session_id
        ))
    }

    /// The live sessions of a user, newest first.
    pub async fn sessions(&self, user_id: Uuid) -> Result<Vec<Session>, StoreError> {
        on_reader!(self, |conn| sql::sessions(conn, user_id))
    }

    /// Sets a new password hash and revokes every session except `keep`, in one transaction.
    pub async fn set_password(
        &self,
        user_id: Uuid,
        hash: String,
        keep: Option<Uuid>,
    ) -> Result<usize, StoreError> {
        on_writer!(self, |conn| sql::set_password(conn, user_id, &hash, keep))
    }

    /// Stores a single-use token (`purpose`: `verify_email`, `reset_password`, or
    /// `change_email:<address>`) by its hash.
    pub async fn create_one_time_token(
        &self,
        user_id: Uuid,
        purpose: impl Into<String>,
        hash: String,
        expires_at: String,
    ) -> Result<(), StoreError> {
        let purpose: String = purpose.into();
        on_writer!(self, |conn| sql::create_one_time_token(
            conn,
            user_id,
            &purpose,
            &hash,
            &expires_at
        ))
    }

    /// Redeems a single-use token: exactly one concurrent caller gets the user id.
    pub async fn redeem_one_time_token(
        &self,
        purpose: &'static str,
        hash: String,
    ) -> Result<Option<Uuid>, StoreError> {
        on_writer!(self, |conn| sql::redeem_one_time_token(
            conn, purpose, &hash
        ))
    }

    /// The user a live single-use token belongs to, without redeeming it (to validate a request
    /// before spending the token).
    pub async fn one_time_token_user(
        &self,
        purpose: &'static str,
        hash: String,
    ) -> Result<Option<Uuid>, StoreError> {
        on_reader!(self, |conn| sql::one_time_token_user(conn, purpose, &hash))
    }

    /// Merges validated profile values into a user's profile (null removes a field); returns
    /// the updated user (`None` when it does not exist).
    pub async fn patch_profile(
        &self,
        user_id: Uuid,
        patch: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<User>, StoreError> {
        on_writer!(self, |conn| sql::patch_profile(conn, user_id, &patch))
    }

    /// Marks a user's email verified.
    pub async fn set_verified(&self, user_id: Uuid) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::set_verified(conn, user_id))
    }

    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        on_reader!(self, |conn| sql::signing_keys(conn))
    }

    /// Adds a signing key and retires every older one at `now` (they keep verifying).
    pub async fn add_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::add_signing_key(conn, &key))
    }

    /// Users in id (creation) order, after `after` when given.
    pub async fn users(&self, after: Option<Uuid>, limit: u32) -> Result<Vec<User>, StoreError> {
        on_reader!(self, |conn| sql::users(conn, after, limit))
    }

    /// Applies an administrator's changes; disabling a user revokes every session in the same
    /// transaction. Returns the updated user.
    pub async fn update_user(
        &self,
        user_id: Uuid,
        changes: UserChanges,
    ) -> Result<User, StoreError> {
        on_writer!(self, |conn| sql::update_user(conn, user_id, &changes))
    }

    /// Stores a new API key (its hash; the key itself is shown once and never stored).
    pub async fn create_api_key(&self, key: ApiKey) -> Result<(), StoreError> {
        on_writer!(self, |conn| api_keys::create(conn, &key))
    }

    /// The key with this visible prefix, revoked or not, with its creator's account as it is now.
    pub async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
        let prefix = prefix.to_owned();
        on_reader!(self, |conn| api_keys::by_prefix(conn, &prefix))
    }

    /// Every API key, oldest first, each with its creator's account as it is now.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        on_reader!(self, |conn| api_keys::all(conn))
    }

    /// Revokes a key at once; returns the key, or `None` when no live key has this id.
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
        on_writer!(self, |conn| api_keys::revoke(conn, id))
    }
}
