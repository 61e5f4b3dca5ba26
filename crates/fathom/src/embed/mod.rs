//! Fathom as a library: [`Fathom::builder`] builds the same [`crate::Application`] the `fathom`
//! binary serves (the binary's `serve` goes through it too), from a schema file (or a parsed
//! schema) and a [`crate::Config`], with the embedding application's additions: after-commit
//! hooks driven by the outbox (`after_commit/`) and custom routes on the same router
//! (`fathom_api::CustomRoutes`). docs/LIBRARY.md is the guide.

pub mod after_commit;
mod builder;

pub use after_commit::{AfterCommit, CommittedEvent, HookContext, HookFailure, HookStats};
pub use builder::{Fathom, FathomBuilder};
pub use fathom_api::{ApiError, AppState, JsonObject, OperationDoc, Principal, RouteDoc};
pub use fathom_engine::{BeforeWrite, Engine, HookCode, HookRefusal, PendingWrite, WriteKind};

/// What an embedding application adds to the server, handed from the builder to
/// [`crate::Application`].
#[derive(Default)]
pub(crate) struct Extensions {
    pub routes: fathom_api::CustomRoutes,
    pub after_commit: Vec<after_commit::Registered>,
    /// The before-write hooks, handed to the records engine.
    pub before_write: fathom_engine::Hooks,
}
