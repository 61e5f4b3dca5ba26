//! OAuth2 / OpenID Connect storage: identities keyed by (provider, subject), the flows in
//! progress (one row per `state`, so any node can finish a flow another began) and Fathom's own
//! single-use authorization codes. Each redemption is one conditional write on the single writer
//! (SQLite) or under a row lock (PostgreSQL), so concurrent redemptions of one code or state
//! yield exactly one success.

use uuid::Uuid;

use crate::Backend;
use crate::Store;
use crate::error::StoreError;
use crate::identity::{NewUser, User, on_reader, on_writer};

/// The password hash of an account that has no usable password (made by an OAuth sign-in). It
/// is not a PHC string, so no password ever matches it; sign-in code checks for it first.
pub const NO_PASSWORD: &str = "!none";

/// Whether a stored password hash is one a password can match.
pub fn password_usable(hash: &str) -> bool {
    !hash.starts_with('!')
}

/// An external identity linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthIdentity {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The provider's name in `[oauth.providers]`.
    pub provider: String,
    /// The provider's stable id of the person (`sub`, or GitHub's numeric user id).
    pub subject: String,
    /// The email the provider reported when the identity was linked.
    pub email: Option<String>,
    pub created_at: String,
}

/// A sign-in or link flow waiting for the provider's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFlow {
    /// SHA-256 of the `state` Fathom sent to the provider.
    pub state_hash: String,
    pub provider: String,
    /// The client's redirect URI (already matched against the allow-list).
    pub redirect_uri: String,
    /// The client's own `state`, handed back with Fathom's code.
    pub client_state: String,
    /// The client's S256 PKCE challenge, which binds Fathom's code to the client's verifier.
    pub code_challenge: String,
    /// The OpenID Connect nonce the `id_token` must carry.
    pub nonce: String,
    /// Fathom's own PKCE verifier towards the provider (short-lived, deleted on use).
    pub pkce_verifier: String,
    /// The signed-in user who asked to link an identity (`None` for a sign-in).
    pub link_user_id: Option<Uuid>,
    pub expires_at: String,
}

/// One of Fathom's authorization codes, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCode {
    /// SHA-256 of the code.
    pub hash: String,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: String,
    /// The identity a link flow links, once the code is redeemed with its verifier.
    pub link: Option<PendingLink>,
}

/// An identity waiting for its link flow's code to be redeemed: linking at the callback would
/// let anyone who got a victim through the provider link the victim's identity to their own
/// account; the verifier proves the redeemer began the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
}

/// What presenting one of Fathom's authorization codes did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeClaim {
    /// First use, with the right verifier and redirect URI: the code is now spent.
    Claimed {
        user_id: Uuid,
        link: Option<PendingLink>,
    },
    /// The code had been presented before: it is marked reused, and the session its first
    /// redemption started (if any yet) is revoked.
    Reused {
        user_id: Uuid,
        session_id: Option<Uuid>,
    },
    /// The verifier or redirect URI did not match; the code is spent all the same.
    Mismatch,
    /// Unknown or expired code.
    Invalid,
}

/// What unlinking an identity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlink {
    Removed,
    /// The user has no such identity.
    NotFound,
    /// It is the account's last way to sign in (no usable password, no other identity).
    LastWay,
}

impl Store {
    /// The identity `(provider, subject)`, when linked.
    pub async fn oauth_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<OAuthIdentity>, StoreError> {
        let (provider, subject) = (provider.to_owned(), subject.to_owned());
        on_reader!(self, |conn| sql::oauth_identity(conn, &provider, &subject))
    }

    /// The identities linked to a user, oldest first.
    pub async fn oauth_identities(&self, user_id: Uuid) -> Result<Vec<OAuthIdentity>, StoreError> {
        on_reader!(self, |conn| sql::oauth_identities(conn, user_id))
    }

    /// How many identities a user has: one of the user's ways to sign in.
    pub async fn oauth_identity_count(&self, user_id: Uuid) -> Result<i64, StoreError> {
        on_reader!(self, |conn| sql::oauth_identity_count(conn, user_id))
    }

    /// Links `(provider, subject)` to `user_id`; a linked pair is a unique violation.
    pub async fn link_oauth_identity(
        &self,
        user_id: Uuid,
        provider: String,
        subject: String,
        email: Option<String>,
    ) -> Result<OAuthIdentity, StoreError> {
        on_writer!(self, |conn| sql::oauth_link(
            conn,
            user_id,
            &provider,
            &subject,
            email.as_deref()
        ))
    }

    /// Creates an account with `user` and links `(provider, subject)` to it, in one transaction.
    pub async fn create_oauth_user(
        &self,
        user: NewUser,
        provider: String,
        subject: String,
    ) -> Result<User, StoreError> {
        on_writer!(self, |conn| sql::oauth_create_user(
            conn, &user, &provider, &subject
        ))
    }

    /// Removes one of a user's identities, unless it is the account's last way to sign in.
    pub async fn unlink_oauth_identity(
        &self,
        user_id: Uuid,
        identity_id: Uuid,
    ) -> Result<Unlink, StoreError> {
        on_writer!(self, |conn| sql::oauth_unlink(conn, user_id, identity_id))
    }

    /// Stores a flow in progress (and drops the expired flows and codes).
    pub async fn create_oauth_flow(&self, flow: OAuthFlow) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::oauth_create_flow(conn, &flow))
    }

    /// Takes the flow with this state hash: exactly one concurrent caller gets it, and an
    /// expired flow is nobody's.
    pub async fn take_oauth_flow(
        &self,
        state_hash: String,
    ) -> Result<Option<OAuthFlow>, StoreError> {
        on_writer!(self, |conn| sql::oauth_take_flow(conn, &state_hash))
    }

    /// Stores one of Fathom's authorization codes (by its hash).
    pub async fn create_oauth_code(&self, code: OAuthCode) -> Result<(), StoreError> {
        on_writer!(self, |conn| sql::oauth_create_code(conn, &code))
    }

    /// Presents a code with the S256 challenge of the client's verifier and its redirect URI.
    pub async fn claim_oauth_code(
        &self,
        hash: String,
        challenge: String,
        redirect_uri: String,
    ) -> Result<CodeClaim, StoreError> {
        on_writer!(self, |conn| sql::oauth_claim_code(
            conn,
            &hash,
            &challenge,
            &redirect_uri
        ))
    }

    /// Records the session a claimed code started. Returns `true` when the code was presented
    /// again meanwhile: the caller then revokes that session and refuses.
    pub async fn attach_oauth_session(
        &self,
        hash: String,
        session_id: Uuid,
    ) -> Result<bool, StoreError> {
        on_writer!(self, |conn| sql::oauth_attach_session(
            conn, &hash, session_id
        ))
    }
}
