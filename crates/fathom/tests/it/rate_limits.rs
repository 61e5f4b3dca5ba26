//! Rate limits on the data API (`[rate_limits]`): per client address, user and API key, by
//! route class, per role; the draft-ietf-httpapi-ratelimit-headers fields on every answer, 429
//! with `Retry-After` past the quota; trusted proxies; and, on PostgreSQL, several nodes
//! sharing one limit through Redis (`postgres::shared_limits`).

mod api;
pub mod support;
