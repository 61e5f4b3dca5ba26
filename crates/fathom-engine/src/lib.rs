//! The records engine: one transport-neutral layer that owns create, read, list, update,
//! delete, batch and restore with validation, access rules, tenancy, hidden fields and
//! before-write hooks. Transports (the REST API in `fathom-api`, realtime, an embedding
//! application) authenticate their caller as a [`Principal`], call the [`Engine`], and turn an
//! [`EngineError`] into their own error form. Nothing here knows HTTP.

pub mod access;
mod engine;
pub mod error;
pub mod filters;
pub mod hook_codes;
pub mod hooks;
pub mod principal;
pub mod reads;
pub mod tenancy;
pub mod write;
pub mod writes;

pub use engine::Engine;
pub use error::{Code, EngineError, FieldProblem, Problem};
pub use hook_codes::HookCode;
pub use hooks::{As, BeforeWrite, HookRefusal, Hooks, PendingWrite, WriteKind};
pub use principal::{Caller, Principal, ServiceKey};
pub use reads::{Listing, Page};
pub use write::WriteObserver;
pub use writes::{Attach, AttachWork, Planned, WriteOptions};
