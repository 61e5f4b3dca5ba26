//! What a cached answer is keyed by: everything that changes it. The served schema (its epoch),
//! the API version, the collection, the kind of read and its record id, the whole query string
//! (filter, sort, cursor, offset, limit, fields, expand, count, ids, deleted: a different
//! spelling only misses), and the caller's rule bindings ([`CallerKey`]).

use uuid::Uuid;

use crate::records::access::Principal;

/// The version of the records API the answers are served under (`/api/v1`).
const API_VERSION: u16 = 1;

/// Which read an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Read {
    List,
    Get(Uuid),
}

/// One cached answer's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    epoch: u64,
    version: u16,
    collection: String,
    read: Read,
    query: String,
    caller: CallerKey,
}

impl Key {
    pub(crate) fn new(
        epoch: u64,
        collection: &str,
        read: Read,
        query: Option<&str>,
        principal: &Principal,
    ) -> Self {
        Self {
            epoch,
            version: API_VERSION,
            collection: collection.to_owned(),
            read,
            query: query.unwrap_or_default().to_owned(),
            caller: CallerKey::of(principal),
        }
    }
}

/// Everything about the caller that rules, tenancy and hidden fields read: for a user, the id,
/// roles, tenant and verified flag bound into `auth.*` (and whether they are an administrator,
/// who sees hidden fields and every tenant); for an API key, the key, its scopes and tenant.
/// Two callers share answers only when all of it is equal, so one never sees what the rules
/// give another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CallerKey {
    Anonymous,
    /// The server itself (never a request's caller; here so that every principal has a key).
    System,
    User {
        admin: bool,
        id: String,
        roles: Vec<String>,
        tenant: Option<String>,
        verified: bool,
    },
    Service {
        id: Uuid,
        scopes: Vec<String>,
        tenant: Option<String>,
    },
}

impl CallerKey {
    fn of(principal: &Principal) -> Self {
        match principal {
            Principal::Anonymous => Self::Anonymous,
            Principal::System => Self::System,
            Principal::User(caller) | Principal::Admin(caller) => Self::User {
                admin: principal.is_admin(),
                id: caller.claims.sub.clone(),
                roles: caller.claims.roles.clone(),
                tenant: caller.claims.tenant.clone(),
                verified: caller.claims.verified,
            },
            Principal::Service(key) => Self::Service {
                id: key.id,
                scopes: key.scopes.iter().map(ToString::to_string).collect(),
                tenant: key.tenant.clone(),
            },
        }
    }
}
