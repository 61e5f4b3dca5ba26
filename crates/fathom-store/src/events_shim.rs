//! TEMPORARY: the outbox interface as announced by the events-outbox branch, so that realtime
//! compiles before it lands. Reverted when that branch is merged.

use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOperation {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    ApiKey(Uuid),
    System,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub sequence: i64,
    pub id: Uuid,
    pub collection: String,
    pub record_id: Uuid,
    pub operation: EventOperation,
    pub version: i64,
    pub tenant: Option<String>,
    pub changed: Vec<String>,
    pub record: Option<serde_json::Map<String, serde_json::Value>>,
    pub actor: Actor,
    pub request_id: Option<String>,
    pub committed_at: String,
}

#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub oldest: i64,
    pub latest: i64,
}

impl Store {
    pub async fn events_after(
        &self,
        _after: i64,
        _limit: usize,
        _tenant: Option<&str>,
    ) -> Result<EventPage, StoreError> {
        Ok(EventPage {
            events: Vec::new(),
            oldest: 1,
            latest: 0,
        })
    }

    pub fn event_watch(&self) -> tokio::sync::watch::Receiver<i64> {
        tokio::sync::watch::channel(0).1
    }
}
