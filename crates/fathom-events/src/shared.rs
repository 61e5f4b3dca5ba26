//! [`Shared`]: one event as the hub hands it to every connection, with the renderings
//! connections made of it, so that subscribers who see an event alike share one serialisation;
//! and [`Memo`], the small keyed store of such shared work (also kept per hub batch).

use std::ops::Deref;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use fathom_schema::Collection;
use fathom_store::{Event, Store, StoreError};
use serde_json::{Map, Value as Json};

/// Distinct renderings remembered per event; past that, each connection renders its own.
const MAX_RENDERINGS: usize = 16;

/// What connections made of one shared thing (an event, a batch), each under the key of what
/// decides it: the same key always stands for the same value, so the first connection that needs
/// a key makes the value and every later one takes it. Holds at most `max` keys; past that, each
/// connection keeps what it makes.
#[derive(Debug)]
pub struct Memo<V> {
    /// Read by every connection (a read lock), written once per key.
    entries: RwLock<Vec<(String, V)>>,
    max: usize,
}

impl<V: Clone> Memo<V> {
    pub fn new(max: usize) -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
            max,
        }
    }

    /// The value kept under `key`, if one was.
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` under `key` (unless another connection kept one first, or the memo is
    /// full), and gives it back.
    pub fn keep(&self, key: &str, value: V) -> V {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() < self.max && !entries.iter().any(|(k, _)| k == key) {
            entries.push((key.to_owned(), value.clone()));
        }
        value
    }
}

/// An event and its renderings, each under the key of what it shows (which subscriptions, how
/// announced, which fields): the same key always renders to the same text.
#[derive(Debug)]
pub struct Shared {
    event: Event,
    renderings: Memo<Arc<str>>,
    /// The record with its encrypted fields decrypted, made once, by the first subscriber
    /// that judges the event (the outbox, and so `event`, holds ciphertext).
    revealed: OnceLock<Option<Map<String, Json>>>,
}

impl Shared {
    pub fn new(event: Event) -> Self {
        Self {
            event,
            renderings: Memo::new(MAX_RENDERINGS),
            revealed: OnceLock::new(),
        }
    }

    /// The event's record as subscribers of `collection` judge and receive it: with encrypted
    /// fields decrypted (once per event). Subscriptions strip what their subscriber may not see.
    pub fn record_for(
        &self,
        store: &Store,
        collection: &Collection,
    ) -> Result<Option<&Map<String, Json>>, StoreError> {
        if !collection.has_encrypted_fields() {
            return Ok(self.event.record.as_ref());
        }
        if let Some(record) = self.revealed.get() {
            return Ok(record.as_ref());
        }
        let mut event = self.event.clone();
        store.reveal_event(collection, &mut event)?;
        Ok(self.revealed.get_or_init(|| event.record).as_ref())
    }

    /// The rendering of this event under `key`: the one made before, or `render`'s (made once
    /// per key, outside the lock, unless two connections race for a new key).
    pub fn render(&self, key: &str, render: impl FnOnce() -> String) -> Arc<str> {
        match self.renderings.get(key) {
            Some(text) => text,
            None => self.renderings.keep(key, Arc::from(render())),
        }
    }
}

impl Deref for Shared {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

/// A created event numbered `sequence`, for the crate's tests.
#[cfg(test)]
pub(crate) fn event(sequence: i64) -> Event {
    Event {
        sequence,
        id: uuid::Uuid::nil(),
        collection: "notes".into(),
        record_id: uuid::Uuid::nil(),
        operation: fathom_store::EventOperation::Create,
        version: 1,
        tenant: None,
        changed: Vec::new(),
        record: None,
        actor: fathom_store::Actor::System,
        request_id: None,
        committed_at: "2026-12-04T00:00:00.000Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_is_rendered_once_and_shared() {
        let shared = Shared::new(event(7));
        let mut renders = 0;
        let first = shared.render("a", || {
            renders += 1;
            "one".into()
        });
        let again = shared.render("a", || {
            renders += 1;
            "other".into()
        });
        let other = shared.render("b", || "two".into());
        assert_eq!(renders, 1);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((&*first, &*other, shared.sequence), ("one", "two", 7));
    }
}
