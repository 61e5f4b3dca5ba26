//! [`HookContext`]: what an after-commit hook may use besides its event: the store, the schema
//! served now, and reads and writes of records as the system (no access rule applies; the
//! values are validated as a create or update over HTTP would be). Its writes are ordinary
//! units of work: they commit on their own and append their own events (which every hook,
//! this one included, sees in turn).

use std::sync::Arc;

use fathom_schema::{Collection, Schema, validate_create, validate_patch};
use fathom_store::{Origin, Record, Scope, Store, UnitOfWork, WriteOp, WriteResult};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::HookFailure;

/// The schema served now (a reload may change it).
pub type SchemaSource = Arc<dyn Fn() -> Arc<Schema> + Send + Sync>;

/// What a hook's `handle` is given with its event.
pub struct HookContext {
    pub(crate) store: Store,
    pub(crate) schema: SchemaSource,
    pub(crate) name: String,
    pub(crate) attempt: u32,
}

impl HookContext {
    /// The hook's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many times this event was handed to this hook before (0 on the first try).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The store, for anything the helpers below do not cover.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The schema served now.
    pub fn schema(&self) -> Arc<Schema> {
        (self.schema)()
    }

    fn collection(&self, name: &str) -> Result<Arc<Collection>, HookFailure> {
        self.schema()
            .collection(name)
            .cloned()
            .ok_or_else(|| HookFailure::new(format!("the schema has no collection `{name}`")))
    }

    /// Reads one record of `collection` in `tenant` (every tenant when `None`), as the system.
    pub async fn get(
        &self,
        collection: &str,
        tenant: Option<&str>,
        id: Uuid,
    ) -> Result<Option<Record>, HookFailure> {
        let collection = self.collection(collection)?;
        self.store
            .get(&scope(tenant), collection, id)
            .await
            .map_err(|e| HookFailure::new(e.detail))
    }

    /// Creates a record of `collection` in `tenant` (required for a tenant-scoped collection) as
    /// the system; `values` are validated as a create's body.
    pub async fn create(
        &self,
        collection: &str,
        tenant: Option<&str>,
        values: &Map<String, Json>,
    ) -> Result<Record, HookFailure> {
        let collection = self.collection(collection)?;
        let values = validate_create(&collection, values).map_err(invalid)?;
        let op = WriteOp::Create {
            id: None,
            collection,
            values,
            tenant: None,
        };
        self.write(tenant, op).await
    }

    /// Updates a record as the system; `patch` is validated as an update's body. With
    /// `expected_version`, the update applies only to that version (otherwise it fails, and the
    /// hook is retried).
    pub async fn update(
        &self,
        collection: &str,
        tenant: Option<&str>,
        id: Uuid,
        patch: &Map<String, Json>,
        expected_version: Option<i64>,
    ) -> Result<Record, HookFailure> {
        let collection = self.collection(collection)?;
        let values = validate_patch(&collection, patch).map_err(invalid)?;
        let op = WriteOp::Update {
            collection,
            id,
            values,
            guard: None,
            expected_version,
        };
        self.write(tenant, op).await
    }

    async fn write(&self, tenant: Option<&str>, op: WriteOp) -> Result<Record, HookFailure> {
        let work = UnitOfWork::single(scope(tenant), op).with_origin(Origin::system());
        let results = self
            .store
            .execute(work)
            .await
            .map_err(|e| HookFailure::new(e.detail))?;
        match results.into_iter().next() {
            Some(WriteResult::Created(record) | WriteResult::Updated(record)) => Ok(record),
            _ => Err(HookFailure::new("the write returned no record")),
        }
    }
}

/// The scope of a system read or write: one tenant's records, or those of no tenant.
fn scope(tenant: Option<&str>) -> Scope {
    Scope::of_member(tenant)
}

fn invalid(errors: Vec<fathom_schema::FieldError>) -> HookFailure {
    let fields: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    HookFailure::new(format!("invalid values ({})", fields.join("; ")))
}
