//! Before-write hooks: application code the engine runs on a create, update or delete (batch
//! operations included) after the access rules allowed it and the values validated, before the
//! store executes it.
//!
//! A hook sees the caller, the collection, the kind of write, the stored record (update,
//! delete) and the incoming values (create, update). It may change the incoming values (the
//! engine validates them again afterwards), add writes of its own (as the caller, checked by the
//! same rules, or explicitly as the system), read records through the engine, or refuse with a
//! problem of its own (a 4xx status, its own code, a detail and a hint).
//!
//! Everything is written as one `UnitOfWork`, so in one transaction: the request's writes and
//! every hook's extra writes commit together or not at all, and a refusal writes nothing (no
//! record, no event). Hooks' reads happen before that transaction; a hook that must write from
//! what it read (a stock count) puts the version it read as `expected_version` on its extra
//! update: if someone else wrote the record first, the unit fails as a whole and the engine runs
//! the hook pass again from fresh reads, a bounded number of times ([`CONFLICT_RETRIES`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use fathom_core::ErrorCode;
use fathom_schema::Collection;
use fathom_store::{Record, WriteOp};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::{Code, EngineError};
use crate::hook_codes::HookCode;
use crate::principal::Principal;

/// How many times the engine runs a request's hook pass again when the unit failed because a
/// record a hook updated with an `expected_version` was changed by someone else meanwhile.
pub const CONFLICT_RETRIES: usize = 3;

/// The kind of a write a hook is registered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    Create,
    Update,
    Delete,
}

impl WriteKind {
    /// The rule operation of the write (`create`, `update`, `delete`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// Whom a hook's extra write or read is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    /// The request's caller: the collection's rules and the caller's tenant apply, exactly as
    /// if the caller had sent the write.
    Caller,
    /// The server itself: no rule applies. Extra writes still go into the request's unit of
    /// work, so they stay in the request's tenant scope.
    System,
}

/// Application code run before a write. Registered per collection and kind in [`Hooks`].
#[async_trait]
pub trait BeforeWrite: Send + Sync {
    /// Inspects (and may change, extend or refuse) the pending write.
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal>;
}

/// A hook's refusal of a write: a problem with the hook's own status (4xx), code, detail and
/// hint, or an engine error the hook met (a refused extra write) passed on unchanged.
#[derive(Debug, Clone)]
pub struct HookRefusal(pub(crate) EngineError);

impl HookRefusal {
    /// A refusal answered with `status` (a 4xx; anything else is answered 400, since a hook
    /// refuses input, it does not fail the server), the code `code` (for example
    /// `out_of_stock`), `detail` and `hint`.
    pub fn new(
        status: u16,
        code: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        let status = if (400..500).contains(&status) {
            status
        } else {
            400
        };
        let mut error = EngineError::new(ErrorCode::ValidationFailed, detail, hint);
        error.code = Code::Custom {
            code: code.into(),
            status,
        };
        Self(error)
    }

    /// The same refusal naming `field` as a cause.
    #[must_use]
    pub fn with_field(self, field: &str, code: &str, message: impl Into<String>) -> Self {
        Self(self.0.with_field(field, code, message))
    }

    /// The problem the refusal answers.
    pub fn error(&self) -> &EngineError {
        &self.0
    }

    pub fn into_error(self) -> EngineError {
        self.0
    }
}

impl From<EngineError> for HookRefusal {
    fn from(error: EngineError) -> Self {
        Self(error)
    }
}

impl fmt::Display for HookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HookRefusal {}

/// The before-write hooks of an application, by collection and kind, run in the order they were
/// registered.
#[derive(Clone, Default)]
pub struct Hooks {
    before: HashMap<(String, WriteKind), Vec<Arc<dyn BeforeWrite>>>,
    /// The codes of the application's own its hooks refuse with.
    codes: Vec<HookCode>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self
            .before
            .iter()
            .map(|((c, k), hooks)| format!("{} {c} ({})", k.as_str(), hooks.len()))
            .collect();
        keys.sort();
        f.debug_struct("Hooks")
            .field("before", &keys)
            .field("codes", &self.codes)
            .finish()
    }
}

impl Hooks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `hook` before every `kind` write of `collection`.
    pub fn before(
        &mut self,
        collection: impl Into<String>,
        kind: WriteKind,
        hook: impl BeforeWrite + 'static,
    ) -> &mut Self {
        self.before_shared(collection, kind, Arc::new(hook))
    }

    /// [`Hooks::before`] with a hook that is shared already.
    pub fn before_shared(
        &mut self,
        collection: impl Into<String>,
        kind: WriteKind,
        hook: Arc<dyn BeforeWrite>,
    ) -> &mut Self {
        self.before
            .entry((collection.into(), kind))
            .or_default()
            .push(hook);
        self
    }

    pub fn before_create(
        &mut self,
        collection: impl Into<String>,
        hook: impl BeforeWrite + 'static,
    ) -> &mut Self {
        self.before(collection, WriteKind::Create, hook)
    }

    pub fn before_update(
        &mut self,
        collection: impl Into<String>,
        hook: impl BeforeWrite + 'static,
    ) -> &mut Self {
        self.before(collection, WriteKind::Update, hook)
    }

    pub fn before_delete(
        &mut self,
        collection: impl Into<String>,
        hook: impl BeforeWrite + 'static,
    ) -> &mut Self {
        self.before(collection, WriteKind::Delete, hook)
    }

    /// The hooks of `kind` writes to `collection` (none: an empty slice, and the write pays
    /// nothing for hooks).
    pub fn of(&self, collection: &str, kind: WriteKind) -> &[Arc<dyn BeforeWrite>] {
        if self.before.is_empty() {
            return &[];
        }
        // The map is keyed by owned names; looking one up costs a short allocation, paid only
        // by applications that register hooks.
        self.before
            .get(&(collection.to_owned(), kind))
            .map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.before.is_empty()
    }

    /// Declares `code`, a code of the application's own its hooks refuse with, so that
    /// transports document it (see [`crate::hook_codes`]).
    pub fn declare(&mut self, code: HookCode) -> &mut Self {
        self.codes.push(code);
        self
    }

    /// The declared codes, in the order of declaration.
    pub fn codes(&self) -> &[HookCode] {
        &self.codes
    }

    /// Logs a refusal whose code was not declared: it is answered as the hook asked, but the
    /// transports' documentation does not list it.
    pub(crate) fn check_declared(&self, refusal: &EngineError) {
        if let Code::Custom { code, .. } = &refusal.code
            && !self.codes.iter().any(|declared| declared.code == code)
        {
            tracing::warn!(
                code = %code,
                "a before-write hook refused a write with a code the application did not declare (Hooks::declare, FathomBuilder::error_codes); the OpenAPI document does not list it"
            );
        }
    }

    /// The collections named by hooks, for a start-up check against the schema.
    pub fn collections(&self) -> impl Iterator<Item = &str> {
        self.hooked().map(|(collection, _)| collection)
    }

    /// Every collection and kind of write that runs hooks.
    pub fn hooked(&self) -> impl Iterator<Item = (&str, WriteKind)> {
        self.before.keys().map(|(c, kind)| (c.as_str(), *kind))
    }
}

/// One write as the hooks see it, and what they add to it.
pub struct PendingWrite<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) caller: &'a Principal,
    pub(crate) collection: &'a Arc<Collection>,
    pub(crate) kind: WriteKind,
    pub(crate) id: Option<Uuid>,
    pub(crate) stored: Option<&'a Record>,
    pub(crate) values: Option<Map<String, Json>>,
    pub(crate) changed: bool,
    pub(crate) extra: Vec<WriteOp>,
}

impl<'a> PendingWrite<'a> {
    /// Who asked for the write.
    pub fn caller(&self) -> &Principal {
        self.caller
    }

    /// The collection written to.
    pub fn collection(&self) -> &Arc<Collection> {
        self.collection
    }

    pub fn kind(&self) -> WriteKind {
        self.kind
    }

    /// The record's id: the stored record's (update, delete), or the id a create names (none:
    /// the store assigns one).
    pub fn id(&self) -> Option<Uuid> {
        self.id
    }

    /// The record as stored before the write (update, delete), as the caller may act on it.
    pub fn stored(&self) -> Option<&Record> {
        self.stored
    }

    /// The incoming values (create: the record's fields; update: the fields the patch sets).
    pub fn values(&self) -> Option<&Map<String, Json>> {
        self.values.as_ref()
    }

    /// The incoming value of `field`, when the write sets it.
    pub fn value(&self, field: &str) -> Option<&Json> {
        self.values.as_ref()?.get(field)
    }

    /// Sets (or, with `None`, removes) an incoming value. A create or update only; the values
    /// are validated against the collection again after the hooks ran.
    pub fn set(&mut self, field: &str, value: Option<Json>) {
        if let Some(values) = self.values.as_mut() {
            self.changed = true;
            match value {
                Some(value) => values.insert(field.to_owned(), value),
                None => values.remove(field),
            };
        }
    }

    /// The incoming values, to change freely (validated again after the hooks ran).
    pub fn values_mut(&mut self) -> Option<&mut Map<String, Json>> {
        self.changed |= self.values.is_some();
        self.values.as_mut()
    }

    /// The engine, for any read a hook needs (reads happen before the write's transaction).
    pub fn engine(&self) -> &Engine {
        self.engine
    }

    fn principal(&self, by: As) -> &Principal {
        match by {
            As::Caller => self.caller,
            As::System => &Principal::System,
        }
    }

    /// Reads one record of `collection`, as the caller (its view rule and tenant) or the system.
    pub async fn get(
        &self,
        by: As,
        collection: &str,
        id: Uuid,
    ) -> Result<Option<Record>, EngineError> {
        let target = self.engine.collection(collection)?;
        self.engine.get(self.principal(by), &target, id).await
    }

    /// Adds the creation of a record of `collection` to the write's transaction.
    pub async fn create(
        &mut self,
        by: As,
        collection: &str,
        values: Map<String, Json>,
    ) -> Result<(), EngineError> {
        let target = self.engine.collection(collection)?;
        let op = self
            .engine
            .extra_create(self.principal(by), &target, &values)
            .await?;
        self.extra.push(op);
        Ok(())
    }

    /// Adds an update of a record of `collection` to the write's transaction; with
    /// `expected_version`, the whole unit fails (and the hook pass is run again) if the record
    /// is at another version when the unit runs.
    pub async fn update(
        &mut self,
        by: As,
        collection: &str,
        id: Uuid,
        values: Map<String, Json>,
        expected_version: Option<i64>,
    ) -> Result<(), EngineError> {
        let target = self.engine.collection(collection)?;
        let op = self
            .engine
            .extra_update(self.principal(by), &target, id, &values, expected_version)
            .await?;
        self.extra.push(op);
        Ok(())
    }

    /// Adds a delete of a record of `collection` to the write's transaction.
    pub fn delete(
        &mut self,
        by: As,
        collection: &str,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<(), EngineError> {
        let target = self.engine.collection(collection)?;
        let planned = self
            .engine
            .plan_delete(self.principal(by), &target, id, expected_version)?;
        self.extra.push(planned.op);
        Ok(())
    }
}
