//! Single flight: while one request reads the answer for a key, other requests missing the same
//! key wait for it instead of each reading the database. Without it, an entry that expires or is
//! invalidated under load sends every concurrent caller to the database at once (a stampede):
//! on a million records, 32 callers each counting the whole collection at the same moment.
//!
//! A flight ends when its [`Flight`] guard is dropped: after the answer was stored, or when the
//! read failed or was cancelled. Waiters then look the key up again, so a waiter never gets an
//! answer the generation check would refuse, and a failed read only costs them the wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::key::Key;

/// The reads under way on this node, by key.
#[derive(Default)]
pub(super) struct Flights {
    under_way: Mutex<HashMap<Key, watch::Receiver<()>>>,
}

/// The first reader's claim on a key; dropping it ends the flight and wakes the waiters.
pub(crate) struct Flight {
    flights: Arc<Flights>,
    key: Key,
    /// Never sent on: its drop is the signal (`changed()` then fails for every receiver).
    _landed: watch::Sender<()>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.flights
            .under_way
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// What [`Flights::join`] decided for a request that missed.
pub(super) enum Joined<T> {
    /// Found stored after all (landed between the first look and the claim).
    Found(T),
    /// Another request is reading it: wait on this, then look again.
    Wait(watch::Receiver<()>),
    /// This request reads it; the others wait for it.
    Lead(Flight),
}

impl Flights {
    /// Joins the flight for `key`, or leads a new one. `stored` looks the key up again while the
    /// table is locked, so an answer stored and landed since the caller's first look is found
    /// instead of read a second time.
    pub(super) fn join<T>(
        self: &Arc<Self>,
        key: &Key,
        stored: impl FnOnce() -> Option<T>,
    ) -> Joined<T> {
        let mut under_way = self
            .under_way
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(landing) = under_way.get(key) {
            return Joined::Wait(landing.clone());
        }
        if let Some(found) = stored() {
            return Joined::Found(found);
        }
        Joined::Lead(self.claim(&mut under_way, key))
    }

    /// Leads a flight for `key` unless one is under way (a refresh, which nobody waits for).
    pub(super) fn lead_if_alone(self: &Arc<Self>, key: &Key) -> Option<Flight> {
        let mut under_way = self
            .under_way
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (!under_way.contains_key(key)).then(|| self.claim(&mut under_way, key))
    }

    fn claim(
        self: &Arc<Self>,
        under_way: &mut HashMap<Key, watch::Receiver<()>>,
        key: &Key,
    ) -> Flight {
        let (landed, landing) = watch::channel(());
        under_way.insert(key.clone(), landing);
        Flight {
            flights: Arc::clone(self),
            key: key.clone(),
            _landed: landed,
        }
    }
}

/// Waits until the flight `landing` belongs to has ended.
pub(super) async fn landed(mut landing: watch::Receiver<()>) {
    // Only the sender's drop ends the wait: nothing is ever sent.
    while landing.changed().await.is_ok() {}
}
