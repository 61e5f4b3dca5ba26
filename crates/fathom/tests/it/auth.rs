//! The authentication security suite over HTTP: registration and verification, forged and
//! malformed access tokens, refresh-token rotation and reuse detection, single-use mailed tokens
//! under concurrency, account lockout and its recovery path, per-address rate limits and
//! `X-Forwarded-For` trust, account enumeration, sessions, bounded password hashing, the JWKS
//! and API keys; authority read from the account as it is now.
//! One submodule per concern.

mod api_keys;
mod authority;
mod caches;
mod challenge;
mod enumeration;
mod hashing;
mod jwks;
mod jwt;
mod lockout;
mod oauth;
mod oauth_flow;
mod oauth_idp;
pub mod passkeys;
mod profile;
mod rate_limit;
mod refresh;
mod registration;
mod sessions;
mod single_use;
mod smtp;
pub mod support;
pub(crate) mod totp;
