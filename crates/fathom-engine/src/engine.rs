//! [`Engine`]: one value holding what every records operation needs (the store, the served
//! schema, the before-write hooks and the transport's write observer), cheap to clone.

use std::sync::Arc;

use fathom_schema::{Collection, Schema};
use fathom_store::Store;

use crate::error::EngineError;
use crate::hooks::Hooks;
use crate::write::WriteObserver;

/// The records engine. A clone is one reference count.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

struct Inner {
    store: Store,
    schema: Arc<Schema>,
    hooks: Arc<Hooks>,
    observer: Option<Arc<dyn WriteObserver>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("collections", &self.0.schema.collections.len())
            .field("hooks", &self.0.hooks)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine serving `schema` from `store`, with no hooks and no observer.
    pub fn new(store: Store, schema: Arc<Schema>) -> Self {
        Self(Arc::new(Inner {
            store,
            schema,
            hooks: Arc::new(Hooks::default()),
            observer: None,
        }))
    }

    fn rebuilt(&self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            store: self.0.store.clone(),
            schema: self.0.schema.clone(),
            hooks: self.0.hooks.clone(),
            observer: self.0.observer.clone(),
        };
        change(&mut inner);
        Self(Arc::new(inner))
    }

    /// The same engine running `hooks` before writes.
    #[must_use]
    pub fn with_hooks(&self, hooks: Arc<Hooks>) -> Self {
        self.rebuilt(|inner| inner.hooks = hooks)
    }

    /// The same engine telling `observer` about its writes.
    #[must_use]
    pub fn with_observer(&self, observer: Arc<dyn WriteObserver>) -> Self {
        self.rebuilt(|inner| inner.observer = Some(observer))
    }

    /// The same engine serving `schema` (a reload); store, hooks and observer are kept.
    #[must_use]
    pub fn with_schema(&self, schema: Arc<Schema>) -> Self {
        self.rebuilt(|inner| inner.schema = schema)
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.0.schema
    }

    pub fn hooks(&self) -> &Hooks {
        &self.0.hooks
    }

    pub(crate) fn observer(&self) -> Option<&Arc<dyn WriteObserver>> {
        self.0.observer.as_ref()
    }

    /// The collection named `name`, or `collection_not_found` naming the ones there are.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>, EngineError> {
        self.0.schema.collection(name).cloned().ok_or_else(|| {
            EngineError::collection_not_found(
                name,
                self.0.schema.collections.keys().map(String::as_str),
            )
        })
    }
}
