//! Who a realtime connection acts for, and the check that keeps it true while the connection
//! lives. The credential (an access token or API key, or none) is kept in memory with the
//! connection and presented again every [`recheck_interval`] (`rechecks.rs`), through the same
//! checks a request makes ([`authenticate`](crate::records::access::authenticate): token
//! validity, live session, the account's authority as it is now, or the API key's state). An
//! expired token, an ended session, a disabled account or a revoked key ends the connection; so
//! does a change of roles, tenant or verification (`authority_changed`), since what the
//! connection may see was decided under the old one.

use std::time::Duration;

use fathom_core::ErrorCode;

use crate::AppState;
use crate::error::ApiError;
use crate::records::access::Principal;

/// A connection's credential. Never printed or logged.
#[derive(Clone)]
pub enum Credential {
    Anonymous,
    Token(String),
}

impl Credential {
    pub fn from_token(token: Option<String>) -> Self {
        match token.filter(|t| !t.trim().is_empty()) {
            Some(token) => Self::Token(token.trim().to_owned()),
            None => Self::Anonymous,
        }
    }

    /// The principal the credential names now.
    pub async fn principal(&self, state: &AppState) -> Result<Principal, ApiError> {
        match self {
            Self::Anonymous => Ok(Principal::Anonymous),
            Self::Token(token) => crate::records::access::authenticate(state, Some(token)).await,
        }
    }
}

/// What decides what a principal may see: its identity and authority. Two principals with the
/// same standing see the same records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing(String);

pub fn standing(principal: &Principal) -> Standing {
    Standing(match principal {
        Principal::Anonymous => "anonymous".into(),
        Principal::System => "system".into(),
        Principal::User(caller) | Principal::Admin(caller) => format!(
            "user:{}:{:?}:{:?}:{}",
            caller.user_id, caller.claims.roles, caller.claims.tenant, caller.claims.verified
        ),
        Principal::Service(key) => format!("key:{}:{:?}:{:?}", key.id, key.scopes, key.tenant),
    })
}

/// How often connections present their credentials again (`rechecks.rs`): half the
/// session-cache window (so a change made on another node ends the stream within about one and
/// a half windows), at least a quarter second, at most fifteen seconds; a second when the cache
/// is off.
pub fn recheck_interval(state: &AppState) -> Duration {
    let window = state.auth.settings.session_cache;
    if window.is_zero() {
        return Duration::from_secs(1);
    }
    (window / 2).clamp(Duration::from_millis(250), Duration::from_secs(15))
}

/// The refusal of a new credential for another account or authority on a live connection.
pub fn authority_changed() -> ApiError {
    ApiError::new(
        ErrorCode::AuthorityChanged,
        "The account's roles, tenant or verification changed, or the credential names another account, so this stream ended.",
        "Reconnect with the current credential and `resume` set to the sequence given, to continue under the new authority.",
    )
}
