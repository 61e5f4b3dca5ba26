//! Passkeys over HTTP against a software authenticator (1Password's `passkey-authenticator`
//! behind its WebAuthn client, which keeps discoverable credentials as phones and password
//! managers do): registration, listing, discoverable sign-in, removal and the last way to sign
//! in (`flows`); bad signatures, wrong origins, replayed challenges, unknown and cloned
//! credentials and malformed bodies, all 4xx with stable codes (`attacks`). Both databases.

mod attacks;
pub mod device;
mod flows;
