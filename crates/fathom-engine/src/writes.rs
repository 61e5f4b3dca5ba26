//! Writes through the engine: the rules, validation and tenancy of a create, update, delete or
//! restore ("planning"), then the before-write hooks ([`crate::hooks`]), then one unit of work in
//! the store. A batch plans its operations itself (their JSON form is the transport's) and runs
//! them through [`Engine::write`] as one unit, hooks included.

use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_query::Filter;
use fathom_schema::{Collection, validate_create_with_id, validate_patch};
use fathom_store::{Record, Scope, StoreError, StoreErrorKind, UnitOfWork, WriteOp, WriteResult};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::access::{check_new_record, rule};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::hooks::{CONFLICT_RETRIES, PendingWrite, WriteKind};
use crate::principal::Principal;
use crate::tenancy::{Pending, create_scope, take_tenant};

/// A transport's hook into the unit of work before it goes to the store (`fathom-api` attaches
/// the idempotency record there).
pub trait AttachWork: Send + Sync {
    /// The unit of work as it goes to the store.
    fn attach(&self, work: UnitOfWork) -> UnitOfWork;
}

/// How [`WriteOptions`] carries an [`AttachWork`].
pub type Attach<'a> = &'a dyn AttachWork;

/// How a transport wants a write run.
#[derive(Clone, Copy, Default)]
pub struct WriteOptions<'a> {
    /// The request the write belongs to, for the outbox (empty: none).
    pub request_id: &'a str,
    pub attach: Option<Attach<'a>>,
}

/// A write the rules allow, with validated values, before the hooks and the store saw it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub op: WriteOp,
    /// The incoming values as JSON (a create's fields without `tenant`, an update's patch),
    /// kept only when hooks will see them.
    body: Option<Map<String, Json>>,
    /// Where the record lives, for the relation checks of values a hook changed.
    scope: Scope,
    /// The tenant an administrator named for a new record.
    tenant: Option<String>,
}

impl Planned {
    /// A write a transport planned itself (a batch operation): `body` is the JSON the values
    /// were validated from (needed only when [`Engine::hooked`] says hooks will see it),
    /// `scope` the tenant scope the record is written in.
    pub fn new(op: WriteOp, body: Option<Map<String, Json>>, scope: Scope) -> Self {
        Self {
            op,
            body,
            scope,
            tenant: None,
        }
    }

    /// The tenant an administrator named for a new record, if any.
    pub fn named_tenant(&self) -> Option<&String> {
        self.tenant.as_ref()
    }

    /// The scope the record is written in.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

/// Refuses a restore in a collection that deletes records for good: there is nothing to
/// restore.
pub fn restorable(collection: &Collection) -> Result<(), EngineError> {
    if collection.soft_delete {
        return Ok(());
    }
    Err(EngineError::new(
        ErrorCode::RouteNotFound,
        format!(
            "The collection `{}` deletes records for good, so there is nothing to restore.",
            collection.name
        ),
        "Only collections declared with soft_delete = true keep deleted records.",
    ))
}

/// The kind of hooks an operation runs (restores and purges run none).
fn kind_of(op: &WriteOp) -> Option<WriteKind> {
    match op {
        WriteOp::Create { .. } => Some(WriteKind::Create),
        WriteOp::Update { .. } => Some(WriteKind::Update),
        WriteOp::Delete { .. } => Some(WriteKind::Delete),
        WriteOp::Restore { .. } | WriteOp::Purge { .. } => None,
    }
}

impl Engine {
    /// Whether hooks run before `kind` writes to `collection` (and so need the incoming JSON).
    pub fn hooked(&self, collection: &str, kind: WriteKind) -> bool {
        !self.hooks().of(collection, kind).is_empty()
    }

    fn keep_body(
        &self,
        collection: &Collection,
        kind: WriteKind,
        body: &Map<String, Json>,
    ) -> Option<Map<String, Json>> {
        self.hooked(&collection.name, kind).then(|| body.clone())
    }

    /// A create of `body` in `collection` by `principal`: the create rule (before validation,
    /// so a caller who may not create learns nothing about the fields), validation, the rule
    /// against the new record. Relations are checked apart ([`Engine::check_relation_tenants`]).
    pub fn plan_create(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        body: &Map<String, Json>,
    ) -> Result<Planned, EngineError> {
        let (fields, tenant) = take_tenant(collection, principal, body)?;
        let create_rule = rule(
            self.schema(),
            collection,
            "create",
            principal,
            Some(&fields),
        )?;
        let (id, values) =
            validate_create_with_id(collection, &fields).map_err(EngineError::validation)?;
        check_new_record(collection, principal, create_rule.as_ref(), &values)?;
        let scope = create_scope(principal, tenant.as_ref());
        Ok(Planned {
            body: self.keep_body(collection, WriteKind::Create, &fields),
            op: WriteOp::Create {
                id,
                collection: collection.clone(),
                values,
                tenant: None,
            },
            scope,
            tenant,
        })
    }

    /// An update of record `id` with `body` by `principal`: the update rule becomes the
    /// statement's guard (checked against the stored row and the row as changed).
    pub fn plan_update(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
        body: &Map<String, Json>,
        expected_version: Option<i64>,
    ) -> Result<Planned, EngineError> {
        let guard = rule(self.schema(), collection, "update", principal, Some(body))?;
        let values = validate_patch(collection, body).map_err(EngineError::validation)?;
        Ok(Planned {
            body: self.keep_body(collection, WriteKind::Update, body),
            op: WriteOp::Update {
                collection: collection.clone(),
                id,
                values,
                guard,
                expected_version,
            },
            scope: principal.scope(),
            tenant: None,
        })
    }

    /// A delete of record `id` by `principal`, guarded by the delete rule.
    pub fn plan_delete(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<Planned, EngineError> {
        let guard = rule(self.schema(), collection, "delete", principal, None)?;
        Ok(Planned {
            body: None,
            op: WriteOp::Delete {
                collection: collection.clone(),
                id,
                guard,
                expected_version,
            },
            scope: principal.scope(),
            tenant: None,
        })
    }

    /// Creates a record; the first result is the created record.
    pub async fn create(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        body: &Map<String, Json>,
        options: WriteOptions<'_>,
    ) -> Result<Vec<WriteResult>, EngineError> {
        let planned = self.plan_create(principal, collection, body)?;
        if let WriteOp::Create { values, .. } = &planned.op {
            self.check_relation_tenants(collection, &planned.scope, None, values)
                .await?;
        }
        let scope = planned.scope.clone();
        self.write(principal, scope, vec![planned], options).await
    }

    /// Updates record `id` with the fields of `body`; the first result is the updated record.
    pub async fn update(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
        body: &Map<String, Json>,
        expected_version: Option<i64>,
        options: WriteOptions<'_>,
    ) -> Result<Vec<WriteResult>, EngineError> {
        let planned = self.plan_update(principal, collection, id, body, expected_version)?;
        if let WriteOp::Update { values, .. } = &planned.op {
            self.check_relation_tenants(collection, &planned.scope, Some(id), values)
                .await?;
        }
        self.write(principal, principal.scope(), vec![planned], options)
            .await
    }

    /// Deletes record `id` (softly where the collection says so).
    pub async fn delete(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
        expected_version: Option<i64>,
        options: WriteOptions<'_>,
    ) -> Result<Vec<WriteResult>, EngineError> {
        let planned = self.plan_delete(principal, collection, id, expected_version)?;
        self.write(principal, principal.scope(), vec![planned], options)
            .await
    }

    /// Brings back a soft-deleted record (the delete rule decides who may); the first result is
    /// the restored record. A collection that deletes for good has nothing to restore.
    pub async fn restore(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
        expected_version: Option<i64>,
        options: WriteOptions<'_>,
    ) -> Result<Vec<WriteResult>, EngineError> {
        restorable(collection)?;
        let guard = rule(self.schema(), collection, "delete", principal, None)?;
        let planned = Planned {
            op: WriteOp::Restore {
                collection: collection.clone(),
                id,
                guard,
                expected_version,
            },
            body: None,
            scope: principal.scope(),
            tenant: None,
        };
        self.write(principal, principal.scope(), vec![planned], options)
            .await
    }

    /// Runs planned writes as one unit of work in `scope`, by `principal`: the hooks of each
    /// first (in order), then the request's operations followed by the hooks' extra writes, in
    /// one transaction. The results are the request's, in order, followed by the extra writes'.
    /// A refusal or store error that comes from an operation names it in `operation`; an extra
    /// write's failure names the operation whose hook added it.
    pub async fn write(
        &self,
        principal: &Principal,
        scope: Scope,
        planned: Vec<Planned>,
        options: WriteOptions<'_>,
    ) -> Result<Vec<WriteResult>, EngineError> {
        let origin = principal.origin_in(options.request_id);
        let attach = |work: UnitOfWork| match options.attach {
            Some(attach) => attach.attach(work),
            None => work,
        };
        let hooked = !self.hooks().is_empty()
            && planned.iter().any(|p| {
                kind_of(&p.op)
                    .is_some_and(|k| !self.hooks().of(&p.op.collection().name, k).is_empty())
            });
        if !hooked {
            let work = UnitOfWork {
                scope,
                ops: planned.into_iter().map(|p| p.op).collect(),
                origin,
                idempotency: None,
            };
            return self.execute(attach(work)).await;
        }
        let own = planned.len();
        let mut attempt = 0;
        loop {
            let (ops, owners) = self.hook_pass(principal, &planned).await?;
            let work = UnitOfWork {
                scope: scope.clone(),
                ops,
                origin: origin.clone(),
                idempotency: None,
            };
            let mut error = match self.execute(attach(work)).await {
                Ok(results) => return Ok(results),
                Err(error) => error,
            };
            let Some(extra) = error.operation.and_then(|i| i.checked_sub(own)) else {
                return Err(error);
            };
            let conflict = matches!(error.store, Some(StoreErrorKind::PreconditionFailed { .. }));
            if conflict && attempt < CONFLICT_RETRIES {
                // Someone wrote a record a hook read first: run the hooks again on fresh reads.
                attempt += 1;
                continue;
            }
            // The transport answers its own way only for the request's operations.
            error.store = None;
            error.operation = owners.get(extra).copied();
            return Err(error);
        }
    }

    /// Runs the hooks of every planned operation: the operations as the hooks left them, then
    /// their extra writes, and for each extra write the index of the operation that added it.
    async fn hook_pass(
        &self,
        principal: &Principal,
        planned: &[Planned],
    ) -> Result<(Vec<WriteOp>, Vec<usize>), EngineError> {
        let mut ops = Vec::with_capacity(planned.len());
        let mut extras = Vec::new();
        let mut owners = Vec::new();
        let mut pending = Pending::new();
        for (index, p) in planned.iter().enumerate() {
            let (op, added) = self
                .run_hooks(principal, p, &pending)
                .await
                .map_err(|mut e| {
                    e.operation = Some(index);
                    e
                })?;
            if let WriteOp::Create { id: Some(id), .. } = &op {
                pending.insert(*id, p.scope.clone());
            }
            ops.push(op);
            owners.extend(std::iter::repeat_n(index, added.len()));
            extras.extend(added);
        }
        ops.extend(extras);
        Ok((ops, owners))
    }

    async fn run_hooks(
        &self,
        principal: &Principal,
        planned: &Planned,
        pending: &Pending,
    ) -> Result<(WriteOp, Vec<WriteOp>), EngineError> {
        let collection = planned.op.collection();
        let hooks = match kind_of(&planned.op) {
            Some(kind) => self.hooks().of(&collection.name, kind),
            None => &[],
        };
        let Some(kind) = kind_of(&planned.op).filter(|_| !hooks.is_empty()) else {
            return Ok((planned.op.clone(), Vec::new()));
        };
        let (id, stored) = match &planned.op {
            WriteOp::Update { id, guard, .. } | WriteOp::Delete { id, guard, .. } => {
                let stored = self
                    .stored(&planned.scope, collection, *id, guard.as_ref())
                    .await?
                    .ok_or_else(|| {
                        EngineError::from(StoreError::new(
                            StoreErrorKind::NotFound,
                            "the record a hook was to see is not there, or not the caller's to change",
                        ))
                    })?;
                (Some(*id), Some(stored))
            }
            WriteOp::Create { id, .. } => (*id, None),
            WriteOp::Restore { .. } | WriteOp::Purge { .. } => (None, None),
        };
        let values = match kind {
            WriteKind::Create | WriteKind::Update => Some(planned.body.clone().unwrap_or_default()),
            WriteKind::Delete => None,
        };
        let mut write = PendingWrite {
            engine: self,
            caller: principal,
            collection,
            kind,
            id,
            stored: stored.as_ref(),
            values,
            changed: false,
            extra: Vec::new(),
        };
        for hook in hooks {
            hook.before(&mut write).await.map_err(|refusal| {
                let error = refusal.into_error();
                self.hooks().check_declared(&error);
                error
            })?;
        }
        let PendingWrite {
            values,
            changed,
            extra,
            ..
        } = write;
        let mut op = planned.op.clone();
        if let (true, Some(values)) = (changed, values) {
            self.revalidate(&mut op, &values, &planned.scope, pending)
                .await?;
        }
        Ok((op, extra))
    }

    /// Validates the values a hook changed, and their relations' tenants, into `op`.
    async fn revalidate(
        &self,
        op: &mut WriteOp,
        values: &Map<String, Json>,
        scope: &Scope,
        pending: &Pending,
    ) -> Result<(), EngineError> {
        match op {
            WriteOp::Create {
                id,
                collection,
                values: typed,
                ..
            } => {
                let (named, validated) =
                    validate_create_with_id(collection, values).map_err(EngineError::validation)?;
                // A batch fixed the id already (later operations refer to it): it stays.
                if id.is_none() {
                    *id = named;
                }
                *typed = validated;
                self.check_relation_tenants_in_batch(collection, scope, None, typed, pending)
                    .await
            }
            WriteOp::Update {
                id,
                collection,
                values: typed,
                ..
            } => {
                *typed = validate_patch(collection, values).map_err(EngineError::validation)?;
                self.check_relation_tenants_in_batch(collection, scope, Some(*id), typed, pending)
                    .await
            }
            WriteOp::Delete { .. } | WriteOp::Restore { .. } | WriteOp::Purge { .. } => Ok(()),
        }
    }

    /// The stored record an update or delete will change, as its guard (the caller's rule)
    /// lets the caller act on it.
    async fn stored(
        &self,
        scope: &Scope,
        collection: &Arc<Collection>,
        id: Uuid,
        guard: Option<&Filter>,
    ) -> Result<Option<Record>, EngineError> {
        self.by_id(scope, collection, id, guard.cloned()).await
    }

    /// A hook's extra create, planned as `principal` would send it.
    pub(crate) async fn extra_create(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        body: &Map<String, Json>,
    ) -> Result<WriteOp, EngineError> {
        let planned = self.plan_create(principal, collection, body)?;
        let Planned {
            mut op,
            scope,
            tenant,
            ..
        } = planned;
        if let WriteOp::Create {
            values,
            tenant: named,
            ..
        } = &mut op
        {
            self.check_relation_tenants(collection, &scope, None, values)
                .await?;
            *named = tenant;
        }
        Ok(op)
    }

    /// A hook's extra update, planned as `principal` would send it.
    pub(crate) async fn extra_update(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
        body: &Map<String, Json>,
        expected_version: Option<i64>,
    ) -> Result<WriteOp, EngineError> {
        let planned = self.plan_update(principal, collection, id, body, expected_version)?;
        if let WriteOp::Update { values, .. } = &planned.op {
            self.check_relation_tenants(collection, &planned.scope, Some(id), values)
                .await?;
        }
        Ok(planned.op)
    }
}
