//! What the engine suites share: a store on the backend of the run (the store suites' own
//! support, SQLite in a temporary directory or a scratch PostgreSQL database with
//! `FATHOM_TEST_BACKEND=postgres`), an engine over it, and principals.

#![allow(dead_code)]

#[path = "../../../fathom-store/tests/support/mod.rs"]
mod store;

use std::sync::Arc;

use fathom_auth::Claims;
use fathom_engine::{Caller, Engine, EngineError, Hooks, Principal, WriteOptions};
use fathom_store::{Record, Scope, WriteResult};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use store::Fixture;

/// An engine over a freshly migrated store of `schema`, with `hooks`.
pub struct World {
    pub fixture: Fixture,
    pub engine: Engine,
}

impl World {
    pub async fn new(name: &str, schema: &str, hooks: Hooks) -> Self {
        let fixture = Fixture::migrated(name, schema).await;
        let engine = Engine::new(fixture.store.clone(), Arc::new(fixture.schema.clone()))
            .with_hooks(Arc::new(hooks));
        Self { fixture, engine }
    }

    pub async fn create(
        &self,
        principal: &Principal,
        collection: &str,
        body: Value,
    ) -> Result<Record, EngineError> {
        let collection = self.engine.collection(collection)?;
        let results = self
            .engine
            .create(
                principal,
                &collection,
                &object(body),
                WriteOptions::default(),
            )
            .await?;
        match results.into_iter().next() {
            Some(WriteResult::Created(record)) => Ok(record),
            other => panic!("a create answers its record, not {other:?}"),
        }
    }

    pub async fn update(
        &self,
        principal: &Principal,
        collection: &str,
        id: Uuid,
        body: Value,
    ) -> Result<Record, EngineError> {
        let collection = self.engine.collection(collection)?;
        let results = self
            .engine
            .update(
                principal,
                &collection,
                id,
                &object(body),
                None,
                WriteOptions::default(),
            )
            .await?;
        match results.into_iter().next() {
            Some(WriteResult::Updated(record)) => Ok(record),
            other => panic!("an update answers its record, not {other:?}"),
        }
    }

    pub async fn delete(
        &self,
        principal: &Principal,
        collection: &str,
        id: Uuid,
    ) -> Result<(), EngineError> {
        let collection = self.engine.collection(collection)?;
        self.engine
            .delete(principal, &collection, id, None, WriteOptions::default())
            .await
            .map(drop)
    }

    /// The record as stored, whoever may see it.
    pub async fn stored(&self, collection: &str, id: Uuid) -> Option<Record> {
        self.fixture
            .store
            .get(&Scope::AllTenants, self.fixture.collection(collection), id)
            .await
            .unwrap()
    }

    /// How many records `collection` holds, in every tenant.
    pub async fn count(&self, collection: &str) -> u64 {
        self.fixture
            .store
            .count(
                &Scope::AllTenants,
                self.fixture.collection(collection),
                None,
            )
            .await
            .unwrap()
    }

    /// The latest sequence of the outbox.
    pub async fn latest_event(&self) -> i64 {
        self.fixture
            .store
            .events_after(0, 1, None)
            .await
            .unwrap()
            .latest
    }
}

pub fn object(body: Value) -> Map<String, Value> {
    match body {
        Value::Object(map) => map,
        other => panic!("a body is an object, not {other}"),
    }
}

fn caller(roles: &[&str], tenant: Option<&str>) -> Caller {
    let user_id = Uuid::now_v7();
    Caller {
        claims: Arc::new(Claims {
            sub: user_id.hyphenated().to_string(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            tenant: tenant.map(str::to_owned),
            verified: true,
            sid: Uuid::now_v7().to_string(),
            iss: "fathom".into(),
            aud: "fathom".into(),
            exp: i64::MAX,
            nbf: 0,
            iat: 0,
            jti: Uuid::now_v7().to_string(),
        }),
        user_id,
        session_id: Uuid::now_v7(),
    }
}

/// A signed-in user, in `tenant` or in none.
pub fn user(tenant: Option<&str>) -> Principal {
    Principal::User(caller(&[], tenant))
}

/// An administrator.
pub fn admin() -> Principal {
    Principal::Admin(caller(&["admin"], None))
}

/// The value of `field` in a record.
pub fn value(record: &Record, field: &str) -> Value {
    record.to_json().get(field).cloned().unwrap_or(Value::Null)
}
