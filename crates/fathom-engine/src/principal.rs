//! Who calls the engine: [`Principal`], transport-neutral. A transport authenticates its caller
//! (a bearer token, an API key, a realtime ticket) and hands the engine the principal; the
//! engine decides from it alone what the caller may read and write, in which tenants, and who
//! the outbox names as the author of a change.

use std::sync::Arc;

use fathom_auth::{Claims, KeyScope};
use fathom_query::{AuthContext, Env};
use fathom_store::{Actor, Origin, Scope};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

/// A caller holding a valid access token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's claims, except `roles`, `tenant` and `verified`, which are the account's as
    /// they are now (at most `auth.session_cache_ms` old), whatever the token says.
    pub claims: Arc<Claims>,
    pub user_id: Uuid,
    pub session_id: Uuid,
}

/// A service holding a live API key.
#[derive(Debug, Clone)]
pub struct ServiceKey {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<KeyScope>,
    pub tenant: Option<String>,
}

/// The caller of a records operation.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    User(Caller),
    Admin(Caller),
    /// A service holding an API key: its scopes decide, not the collection's rules.
    Service(ServiceKey),
    /// The server itself (a hook writing as the system, an after-commit handler): no rule
    /// applies, every tenant is reached, and the outbox names the system as the author. No
    /// transport ever authenticates a request as the system.
    System,
}

impl Principal {
    /// Whether the caller is above the rules: administrators and the system.
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::Admin(_) | Self::System)
    }

    /// The tenants this caller's records operations reach: administrators (and the system)
    /// reach every tenant, users their own (or none), anonymous callers none.
    pub fn scope(&self) -> Scope {
        match self {
            Self::Anonymous => Scope::NoTenant,
            Self::User(caller) => Scope::of_member(caller.claims.tenant.as_deref()),
            Self::Admin(_) | Self::System => Scope::AllTenants,
            Self::Service(key) => key.tenant.clone().map_or(Scope::AllTenants, Scope::Tenant),
        }
    }

    /// Who the change is made by, for the outbox: the user (administrators too) or the API key.
    pub fn actor(&self) -> Actor {
        match self {
            Self::Anonymous | Self::System => Actor::System,
            Self::User(caller) | Self::Admin(caller) => Actor::User(caller.user_id),
            Self::Service(key) => Actor::ApiKey(key.id),
        }
    }

    /// The origin of this caller's writes in the request `request_id` (empty: none).
    pub fn origin_in(&self, request_id: &str) -> Origin {
        Origin {
            actor: self.actor(),
            request_id: Some(request_id.to_owned()).filter(|id| !id.is_empty()),
        }
    }

    /// The signed-in account, for users and administrators.
    pub fn account(&self) -> Option<&Caller> {
        match self {
            Self::User(caller) | Self::Admin(caller) => Some(caller),
            Self::Anonymous | Self::Service(_) | Self::System => None,
        }
    }

    /// The expression environment: who the caller is, and the request body when there is one.
    pub fn env(&self, body: Option<&Map<String, Json>>) -> Env {
        let auth = self.account().map(|caller| AuthContext {
            id: caller.claims.sub.clone(),
            roles: caller.claims.roles.clone(),
            tenant: caller.claims.tenant.clone(),
            verified: caller.claims.verified,
        });
        Env {
            auth,
            request_method: None,
            request_body: body.cloned(),
        }
    }
}
