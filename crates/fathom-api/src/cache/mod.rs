//! The result cache: list pages, counts and record reads of the collections whose schema says
//! `cache = "30s"`, kept in memory on each node (moka, bounded in bytes, each entry living at
//! most its collection's duration).
//!
//! Correctness rests on generations, not on removing entries in time. Every collection has a
//! generation counter on this node; a write bumps the counters of the collections it touches,
//! here before its response is sent ([`ResultCache::invalidate`], called by every record write)
//! and on every other node when the outbox event reaches that node's hub (the hub's observer).
//! An answer is stored with the generations of every collection it could depend on (its own and
//! all those its relations reach, through rules, filters, cascades and `expand`), as they were
//! read *before* its database reads began, and is served only while all of them are unchanged.
//! So an answer read before a write's commit can never outlive that write's invalidation, even
//! when it is stored after it. What a caller may see is part of the key ([`key::CallerKey`]):
//! callers whose rule bindings differ never share an entry. Concurrent misses of one key read
//! once ([`flight`]): the others wait for that answer. In the last quarter of an entry's life,
//! one request reads it again while the others are still served it, so a popular answer is
//! replaced before it expires rather than stalling every caller when it does.

mod answer;
mod flight;
mod key;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use fathom_schema::{Collection, FieldType, Schema};

pub(crate) use answer::Answer;
use flight::{Flight, Flights, Joined};
use key::Key;
pub(crate) use key::Read;

use crate::records::access::Principal;

/// One collection's counters on this node.
#[derive(Debug, Default)]
struct Slot {
    generation: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// A stored answer, with the generations it was read under.
struct Entry {
    generations: Box<[u64]>,
    ttl: Duration,
    stored_at: Instant,
    answer: Arc<Answer>,
}

impl Entry {
    /// Whether the entry is in the last quarter of its life, when one request reads it again
    /// while the others are still served this answer (so a popular answer is replaced before it
    /// expires, instead of every caller waiting for a read when it does).
    fn due_for_refresh(&self) -> bool {
        self.stored_at.elapsed() >= self.ttl.mul_f64(REFRESH_AFTER)
    }
}

/// The share of an entry's life after which one request refreshes it ([`Entry::due_for_refresh`]).
const REFRESH_AFTER: f64 = 0.75;

/// Each entry lives its own collection's duration.
struct PerEntry;

impl moka::Expiry<Key, Arc<Entry>> for PerEntry {
    fn expire_after_create(&self, _: &Key, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    /// A replaced answer (read again after an invalidation) lives its full duration, not what
    /// was left of the one it replaces.
    fn expire_after_update(
        &self,
        _: &Key,
        entry: &Arc<Entry>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The node's result cache; shared by every state the node serves across schema reloads.
pub struct ResultCache {
    entries: moka::sync::Cache<Key, Arc<Entry>>,
    flights: Arc<Flights>,
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    /// Numbers the schemas served, so that a reload never serves an answer of the old one.
    epochs: AtomicU64,
    enabled: bool,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("entries", &self.entries.entry_count())
            .finish_non_exhaustive()
    }
}

impl ResultCache {
    /// A cache holding answers of at most `max_bytes` bytes in all; `0` caches nothing.
    pub fn new(max_bytes: u64) -> Arc<Self> {
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &Key, entry: &Arc<Entry>| entry.answer.weight())
            .expire_after(PerEntry)
            .build();
        Arc::new(Self {
            entries,
            flights: Arc::default(),
            slots: RwLock::new(HashMap::new()),
            epochs: AtomicU64::new(0),
            enabled: max_bytes > 0,
        })
    }

    fn slot(&self, collection: &str) -> Arc<Slot> {
        if let Some(slot) = self
            .slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(collection)
        {
            return Arc::clone(slot);
        }
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(slots.entry(collection.to_owned()).or_default())
    }

    /// What `schema` caches and what each of its cached collections' answers depend on.
    pub fn plan(&self, schema: &Schema) -> CachePlan {
        let epoch = self.epochs.fetch_add(1, Ordering::Relaxed);
        let collections = schema
            .collections
            .values()
            .filter(|_| self.enabled)
            .filter_map(|collection| {
                let ttl = collection.cache?;
                let deps = reach(schema, collection)
                    .iter()
                    .map(|name| self.slot(name))
                    .collect();
                Some((
                    collection.name.clone(),
                    Arc::new(CollectionPlan {
                        ttl,
                        slot: self.slot(&collection.name),
                        deps,
                    }),
                ))
            })
            .collect();
        CachePlan { epoch, collections }
    }

    /// Drops every answer that a change to `collection` could have changed (those of the
    /// collection and of every collection whose answers reach it).
    pub fn invalidate(&self, collection: &str) {
        if let Some(slot) = self
            .slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(collection)
        {
            slot.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The observer the node's hub calls with every batch of events it reads: answers of
    /// another node's writes are dropped here (this node's own were dropped already).
    pub fn observer(self: &Arc<Self>) -> fathom_events::Observer {
        let cache = Arc::clone(self);
        Box::new(move |batch| {
            let touched: BTreeSet<&str> = batch.iter().map(|e| e.collection.as_str()).collect();
            touched.into_iter().for_each(|c| cache.invalidate(c));
        })
    }

    /// The stored entry for `key`, if it is still valid.
    fn peek(&self, plan: &CollectionPlan, key: &Key) -> Option<Arc<Entry>> {
        self.entries
            .get(key)
            .filter(|entry| plan.current(&entry.generations))
    }

    fn count(plan: &CollectionPlan, hit: bool) {
        let counter = if hit {
            &plan.slot.hits
        } else {
            &plan.slot.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores `answer` for `key`, read under `generations` (taken by
    /// [`CollectionPlan::generations`] before the reads began). An answer that is already
    /// outdated is not stored.
    fn store(&self, plan: &CollectionPlan, key: Key, generations: Box<[u64]>, answer: Arc<Answer>) {
        if plan.current(&generations) {
            let entry = Entry {
                generations,
                ttl: plan.ttl,
                stored_at: Instant::now(),
                answer,
            };
            self.entries.insert(key, Arc::new(entry));
        }
    }

    /// `(collection, hits, misses)` of every collection that has been cached on this node.
    pub fn counts(&self) -> Vec<(String, u64, u64)> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let mut counts: Vec<_> = slots
            .iter()
            .filter(|(_, s)| s.hits.load(Ordering::Relaxed) + s.misses.load(Ordering::Relaxed) > 0)
            .map(|(name, s)| {
                (
                    name.clone(),
                    s.hits.load(Ordering::Relaxed),
                    s.misses.load(Ordering::Relaxed),
                )
            })
            .collect();
        counts.sort();
        counts
    }
}

/// A read that may be cached, under way: stored by [`ResultCache::finish`] once answered.
pub(crate) struct Pending {
    plan: Arc<CollectionPlan>,
    key: Key,
    generations: Box<[u64]>,
    /// Held until the answer is stored (or the read fails): others missing the key wait for it.
    flight: Option<Flight>,
}

/// What [`ResultCache::begin`] found.
pub(crate) enum Lookup {
    /// A valid stored answer.
    Hit(Arc<Answer>),
    /// None: read, then hand the answer to [`ResultCache::finish`] (nothing to do when the
    /// collection is not cached).
    Miss(Option<Box<Pending>>),
}

impl ResultCache {
    /// Looks `read` up for `principal`. On a miss while another request reads the same key,
    /// waits for that one and looks again (once: if its read failed, this one reads itself).
    /// A hit on an entry due for refresh, when no other request reads the key, reads it again
    /// itself. On a miss to read, notes the generations before any read.
    pub(crate) async fn begin(
        &self,
        plans: &CachePlan,
        collection: &str,
        read: Read,
        query: Option<&str>,
        principal: &Principal,
    ) -> Lookup {
        let Some(plan) = plans.get(collection) else {
            return Lookup::Miss(None);
        };
        let key = Key::new(plans.epoch, collection, read, query, principal);
        let mut waited = false;
        let flight = loop {
            if let Some(entry) = self.peek(plan, &key) {
                if entry.due_for_refresh()
                    && let Some(flight) = self.flights.lead_if_alone(&key)
                {
                    break Some(flight);
                }
                Self::count(plan, true);
                return Lookup::Hit(Arc::clone(&entry.answer));
            }
            match self.flights.join(&key, || self.peek(plan, &key)) {
                Joined::Found(entry) => {
                    Self::count(plan, true);
                    return Lookup::Hit(Arc::clone(&entry.answer));
                }
                Joined::Wait(landing) if !waited => {
                    waited = true;
                    flight::landed(landing).await;
                }
                Joined::Wait(_) => break None,
                Joined::Lead(flight) => break Some(flight),
            }
        };
        Self::count(plan, false);
        Lookup::Miss(Some(Box::new(Pending {
            plan: Arc::clone(plan),
            key,
            generations: plan.generations(),
            flight,
        })))
    }

    /// Stores the answer of a read [`ResultCache::begin`] missed (built only when it is kept),
    /// then lets the requests waiting for it look again.
    pub(crate) fn finish(&self, pending: Option<Box<Pending>>, answer: impl FnOnce() -> Answer) {
        if let Some(Pending {
            plan,
            key,
            generations,
            flight,
        }) = pending.map(|p| *p)
        {
            self.store(&plan, key, generations, Arc::new(answer()));
            drop(flight);
        }
    }
}

/// What one served schema caches.
#[derive(Debug, Default)]
pub struct CachePlan {
    epoch: u64,
    collections: HashMap<String, Arc<CollectionPlan>>,
}

impl CachePlan {
    /// The plan of `collection`, when its answers are cached.
    fn get(&self, collection: &str) -> Option<&Arc<CollectionPlan>> {
        self.collections.get(collection)
    }
}

/// One cached collection: how long its answers live and what they depend on.
#[derive(Debug)]
pub struct CollectionPlan {
    ttl: Duration,
    slot: Arc<Slot>,
    /// The collection's own slot and those of every collection its relations reach.
    deps: Vec<Arc<Slot>>,
}

impl CollectionPlan {
    /// The generations an answer is read under; take them before the first read.
    fn generations(&self) -> Box<[u64]> {
        self.deps
            .iter()
            .map(|s| s.generation.load(Ordering::SeqCst))
            .collect()
    }

    fn current(&self, generations: &[u64]) -> bool {
        self.deps.len() == generations.len()
            && self
                .deps
                .iter()
                .zip(generations)
                .all(|(slot, g)| slot.generation.load(Ordering::SeqCst) == *g)
    }
}

/// `collection` and every collection connected to it by relations, in either direction and
/// however many hops away: an answer can show them (`expand`, to-one and to-many `_via_`), be
/// filtered by them (relation paths in filters and rules, and the rules of what those reach),
/// and be changed by their deletes (cascades and `set_null` write the referring records).
fn reach(schema: &Schema, collection: &Collection) -> BTreeSet<String> {
    let targets = |c: &Collection| -> Vec<String> {
        c.fields
            .iter()
            .filter_map(|field| match &field.kind {
                FieldType::Relation {
                    collection: target, ..
                } => Some(target.clone()),
                _ => None,
            })
            .collect()
    };
    let mut seen = BTreeSet::from([collection.name.clone()]);
    let mut todo = vec![collection.name.clone()];
    while let Some(current) = todo.pop() {
        let Some(here) = schema.collection(&current) else {
            continue;
        };
        let referrers = schema
            .collections
            .values()
            .filter(|other| targets(other).contains(&current))
            .map(|other| other.name.clone());
        for next in targets(here).into_iter().chain(referrers) {
            if schema.collection(&next).is_some() && seen.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests;
