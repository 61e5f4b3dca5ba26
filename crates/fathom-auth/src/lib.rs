//! Identity primitives for Fathom: everything about proving who a caller is, with no I/O.
//!
//! - [`password`]: Argon2id hashing on a bounded blocking pool ([`PasswordHasher`]) and the
//!   rules a new password must meet ([`PasswordPolicy`]).
//! - [`token`]: opaque random tokens and API keys, and the SHA-256 form they are stored in.
//! - [`scope`]: what an API key may do ([`KeyScope`]).
//! - [`jwt`]: Ed25519 access tokens signed and verified by a rotating [`KeyRing`], and its JWKS.
//! - [`error`]: [`AuthError`] and the coarse [`AuthErrorKind`] the API layer maps to responses.
//!
//! Nothing here reads the clock, the environment or a database: time (`now`, unix seconds),
//! configuration and stored keys and hashes come in as arguments, so tests can move time and the
//! store decides where secrets live. The one runtime dependency is tokio's blocking pool, which
//! password hashing runs on. No secret (password, token, private key) is ever part of an error
//! message or a `Debug` output.

pub mod error;
pub mod jwt;
pub mod password;
pub mod scope;
pub mod token;

pub use error::{AuthError, AuthErrorKind};
pub use jwt::{Claims, KeyRing, SigningKey, TokenConfig, TokenSubject};
pub use password::{
    Lane, PasswordHasher, PasswordParams, PasswordPolicy, PolicyViolation, PoolStats, Verification,
};
pub use scope::{EVENTS_READ, KEY_OPERATIONS, KeyScope, reads_events, scopes_allow};
pub use token::{api_key_prefix, constant_time_eq, generate_api_key, generate_token, hash_token};
