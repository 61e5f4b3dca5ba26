//! The architect's advice as the HTTP edge sees it (docs/ARCHITECT.md): the client advice this
//! node gathers from the records reads it serves (`clients`, finding `patterns` in the reads the
//! bounded `recorder` keeps), and `GET /api/v1/admin/advice` (`route`), which shows every
//! finding [`collect`] gathers.

mod clients;
mod patterns;
mod recorder;
mod route;
mod settings;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use fathom_architect::Finding;

pub use clients::ClientAdvice;
pub use recorder::{CallerId, Read, ReadKind};
pub use route::KINDS;
pub use settings::ClientAdviceSettings;

use crate::AppState;
use crate::records::access::Principal;

/// `/advice`, under `/api/v1/admin`.
pub fn router() -> Router<AppState> {
    Router::new().route("/advice", axum::routing::get(route::list))
}

/// Every finding this node can tell about the deployment, for `GET /api/v1/admin/advice`:
/// index advice first (missing indexes, verified against the database's plans, then redundant
/// and unused indexes and unindexed relations), read from the query shapes every node
/// recorded; it is about the database, which every client shares. Then this node's client
/// advice.
pub async fn collect(state: &AppState) -> Result<Vec<Finding>, crate::error::ApiError> {
    let reports = state.store.query_shapes().await?;
    let mut findings = fathom_architect::advise_indexes(
        &state.store,
        &state.schema,
        &reports,
        &fathom_architect::IndexOptions::default(),
    )
    .await?;
    findings.extend(state.client_advice.findings(&state.schema));
    Ok(findings)
}

/// The client's address, as [`crate::client_ip`] resolves it (trusted proxies honoured): who an
/// anonymous caller is, for client advice.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::client_ip::client_ip(
            parts,
            &state.auth.settings.trusted_proxies,
        )))
    }
}

/// Who a records read came from: the user (administrators too), the API key, or the address
/// of an anonymous caller.
pub fn caller_of(principal: &Principal, addr: Option<IpAddr>) -> CallerId {
    match principal {
        Principal::User(caller) | Principal::Admin(caller) => CallerId::User(caller.user_id),
        Principal::Service(key) => CallerId::ApiKey(key.id),
        // The system is never a request's caller; it counts with the addressless anonymous.
        Principal::Anonymous | Principal::System => {
            CallerId::Anonymous(addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
        }
    }
}

/// What a list request asked for, read from its query without checking it: for a cached
/// answer, which a valid request of the same query produced before. The records it held are
/// not known, so the page counts as full.
pub fn cached_list(collection: u16, query: Option<&str>, default_limit: u32) -> Read {
    let mut read = Read {
        kind: ReadKind::List,
        limit: default_limit,
        returned: None,
        ..Read::get(collection)
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "offset" => read.offset = value.parse().unwrap_or(0),
            "limit" => read.limit = value.parse().unwrap_or(default_limit),
            "count" => read.count = matches!(value.as_ref(), "true" | "1"),
            "cursor" => read.cursor = true,
            "filter" | "ids" => read.filtered = true,
            _ => {}
        }
    }
    read
}

/// A list answered from the database: `returned` records, and the total when counted.
pub fn answered_list(
    collection: u16,
    request: &crate::records::params::ListRequest,
    filtered: bool,
    returned: usize,
    total: Option<u64>,
) -> Read {
    Read {
        at: Instant::now(),
        collection,
        kind: ReadKind::List,
        offset: request.offset,
        limit: request.limit,
        returned: Some(u32::try_from(returned).unwrap_or(u32::MAX)),
        count: request.count,
        cursor: request.after.is_some(),
        filtered,
        total,
    }
}
