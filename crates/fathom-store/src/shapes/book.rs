//! The shape book: this node's query shapes with the figures recorded since the last flush.
//!
//! Recording sits on every read, so it is lock-light and allocation-free for a shape already
//! held: the read's shape is hashed straight from its parts ([`Probe::hash`], no strings built)
//! into one of 16 shards, each a small map behind its own mutex held for a few counter updates;
//! only a shape seen for the first time is built in full ([`Probe::shape`]).
//!
//! Memory is bounded: the book holds at most `max_shapes` shapes. A new shape arriving at a full
//! book evicts the least-used shape of the shard it lands in (or, when that shard is empty, of
//! the first shard holding one): the shape called least often on this node since it entered the
//! book, the least recently called among equals. Ranking within one shard (a sixteenth of the
//! book) rather than the whole keeps a new shape's cost to one short scan under one lock; the
//! shapes a workload leans on are called far more often than the one-off shapes a flood brings,
//! so they stay. An evicted shape's figures not yet flushed are lost (counted in `evicted`).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fathom_query::{Filter, SortKey};
use fathom_schema::Collection;

use super::figures::{Figures, Sample, persisted_key};
use super::{Condition, QueryShape, ShapeKind, SortShape};
use crate::record::Scope;

/// The default bound on shapes held (`architect.max_shapes`).
pub const DEFAULT_MAX_SHAPES: usize = 1000;

const SHARDS: usize = 16;

/// Everything a read's shape is made of, borrowed from the read itself.
pub(crate) struct Probe<'a> {
    pub collection: &'a Collection,
    pub kind: ShapeKind,
    pub scope: &'a Scope,
    pub filter: Option<&'a Filter>,
    pub sort: &'a [SortKey],
    pub expand: &'a [String],
    pub limit: Option<u32>,
    pub offset: bool,
    pub cursor: bool,
}

impl Probe<'_> {
    fn tenant_scoped(&self) -> bool {
        self.collection.tenant_scoped && matches!(self.scope, Scope::Tenant(_))
    }

    fn page_size(&self) -> Option<u32> {
        self.limit
            .map(|l| l.max(1).checked_next_power_of_two().unwrap_or(u32::MAX))
    }

    /// A hash equal for two probes exactly when their shapes are (up to collisions, which a
    /// 64-bit hash makes negligible for a book of a few thousand shapes).
    pub(crate) fn hash(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.collection.name.hash(&mut h);
        self.kind.hash(&mut h);
        match self.filter {
            Some(filter) => filter.shape_hash(&mut h),
            None => h.write_u8(0),
        }
        h.write_usize(self.sort.len());
        for key in self.sort {
            key.path.dotted_hash(&mut h);
            key.descending.hash(&mut h);
        }
        self.expand.hash(&mut h);
        self.page_size().hash(&mut h);
        (self.offset, self.cursor, self.tenant_scoped()).hash(&mut h);
        h.finish()
    }

    /// The shape in full (a new shape's first call only).
    pub(crate) fn shape(&self) -> QueryShape {
        let (filter, conditions, conjunctive) = match (self.kind, self.filter) {
            // A get reads one record by id (the store adds no other condition).
            (ShapeKind::Get, _) => (
                "id = ?".to_owned(),
                vec![Condition {
                    path: "id".into(),
                    op: "=".into(),
                }],
                true,
            ),
            (_, Some(filter)) => {
                let shape = filter.shape();
                let conditions = shape
                    .conditions
                    .into_iter()
                    .map(|c| Condition {
                        path: c.path,
                        op: c.op.to_owned(),
                    })
                    .collect();
                (shape.text, conditions, shape.conjunctive)
            }
            (_, None) => (String::new(), Vec::new(), true),
        };
        QueryShape {
            collection: self.collection.name.clone(),
            kind: self.kind,
            filter,
            conditions,
            conjunctive,
            sort: self
                .sort
                .iter()
                .map(|k| SortShape {
                    path: k.path.dotted(),
                    descending: k.descending,
                })
                .collect(),
            expand: self.expand.to_vec(),
            page_size: self.page_size(),
            offset: self.offset,
            cursor: self.cursor,
            tenant_scoped: self.tenant_scoped(),
        }
    }
}

/// Hashes a path as its dotted form would, without building it.
trait DottedHash {
    fn dotted_hash<H: Hasher>(&self, h: &mut H);
}

impl DottedHash for fathom_query::FieldPath {
    fn dotted_hash<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.hops.len());
        for hop in &self.hops {
            hop.field.hash(h);
        }
        self.column.hash(h);
    }
}

/// A shape held, with its figures since the last flush.
struct Entry {
    shape: Arc<QueryShape>,
    key: Arc<str>,
    /// Calls on this node since the shape entered the book (never reset by a flush): what
    /// eviction ranks by.
    uses: u64,
    /// When it was last called (kept across flushes, unlike the pending figures').
    last_used_ms: i64,
    pending: Figures,
}

impl Entry {
    fn new(shape: QueryShape, sample: &Sample, now: i64) -> Self {
        let key: Arc<str> = persisted_key(&shape).into();
        let mut pending = Figures::default();
        pending.record(sample, now);
        Self {
            shape: Arc::new(shape),
            key,
            uses: 1,
            last_used_ms: now,
            pending,
        }
    }
}

struct Shard {
    entries: HashMap<u64, Entry>,
}

/// A read's shape, taken before it ran (see [`ShapeBook::ticket`]).
pub(crate) struct Ticket {
    hash: u64,
    shape: Option<Box<QueryShape>>,
}

/// A shape's figures taken out of the book by a flush.
#[derive(Debug, Clone)]
pub(crate) struct Drained {
    pub hash: u64,
    pub key: Arc<str>,
    pub shape: Arc<QueryShape>,
    pub figures: Figures,
}

/// See the module documentation.
pub struct ShapeBook {
    enabled: bool,
    max_shapes: usize,
    shards: Box<[Mutex<Shard>]>,
    /// Shapes held (places taken), at most `max_shapes`.
    held: AtomicUsize,
    evicted: AtomicU64,
}

impl Default for ShapeBook {
    fn default() -> Self {
        Self::new(true, DEFAULT_MAX_SHAPES)
    }
}

impl ShapeBook {
    /// A book holding at most `max_shapes` shapes (at least one); `enabled: false` records
    /// nothing.
    pub fn new(enabled: bool, max_shapes: usize) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    entries: HashMap::new(),
                })
            })
            .collect();
        Self {
            enabled,
            max_shapes: max_shapes.max(1),
            shards,
            held: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    /// The most shapes the book holds.
    pub fn max_shapes(&self) -> usize {
        self.max_shapes
    }

    /// Whether reads are recorded.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // The high bits pick the shard; the map rehashes the whole key anyway.
        let n = usize::try_from(hash >> 32).unwrap_or(0) % self.shards.len();
        self.shards[n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Before a read: the key of its shape and, when the book does not hold the shape yet, the
    /// shape in full (built here because the read consumes its query). `None` when recording is
    /// off.
    pub(crate) fn ticket(&self, probe: &Probe<'_>) -> Option<Ticket> {
        if !self.enabled {
            return None;
        }
        let hash = probe.hash();
        let held = self.shard(hash).entries.contains_key(&hash);
        Some(Ticket {
            hash,
            shape: (!held).then(|| Box::new(probe.shape())),
        })
    }

    /// After the read: counts it under its ticket's shape.
    pub(crate) fn record(&self, ticket: Ticket, sample: &Sample) {
        let now = crate::idempotency::now_ms();
        let hash = ticket.hash;
        {
            let mut shard = self.shard(hash);
            if let Some(entry) = shard.entries.get_mut(&hash) {
                entry.uses += 1;
                entry.last_used_ms = now;
                entry.pending.record(sample, now);
                return;
            }
            // Held when the ticket was taken but evicted since: this call goes uncounted.
            let Some(shape) = ticket.shape else {
                return;
            };
            if self.reserve() || self.evict_from(&mut shard) {
                shard.entries.insert(hash, Entry::new(*shape, sample, now));
                return;
            }
            // The book is full and this shard empty: room is made in another shard, with this
            // one's lock released (a thread never holds two shard locks, so none can deadlock).
            drop(shard);
            if !self.evict_elsewhere() {
                return;
            }
            let mut shard = self.shard(hash);
            if let Some(entry) = shard.entries.get_mut(&hash) {
                // Another read of the same shape got in first: the freed room is not needed.
                entry.uses += 1;
                entry.last_used_ms = now;
                entry.pending.record(sample, now);
                self.held.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            shard.entries.insert(hash, Entry::new(*shape, sample, now));
        }
    }

    /// Takes one place in the book if it is not full.
    fn reserve(&self) -> bool {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                (held < self.max_shapes).then_some(held + 1)
            })
            .is_ok()
    }

    /// Evicts the shard's least-used shape (the least recently seen among equals); its place
    /// passes to the caller's new shape. False when the shard is empty.
    fn evict_from(&self, shard: &mut Shard) -> bool {
        let victim = shard
            .entries
            .iter()
            .min_by_key(|(_, e)| (e.uses, e.last_used_ms))
            .map(|(h, _)| *h);
        match victim {
            Some(victim) => {
                shard.entries.remove(&victim);
                self.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Evicts from the first other shard that holds a shape.
    fn evict_elsewhere(&self) -> bool {
        self.shards.iter().any(|shard| {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            self.evict_from(&mut shard)
        })
    }

    /// How many shapes the book holds.
    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether the book holds no shape.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many shapes were evicted to make room since the book was made.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Takes the figures recorded since the last flush out of the book (the shapes stay).
    pub(crate) fn drain(&self) -> Vec<Drained> {
        self.collect(true)
    }

    /// A copy of the figures recorded since the last flush.
    pub(crate) fn snapshot(&self) -> Vec<Drained> {
        self.collect(false)
    }

    fn collect(&self, take: bool) -> Vec<Drained> {
        let mut out = Vec::new();
        for shard in &*self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for (hash, entry) in &mut shard.entries {
                if entry.pending.calls == 0 {
                    continue;
                }
                let figures = if take {
                    std::mem::take(&mut entry.pending)
                } else {
                    entry.pending.clone()
                };
                out.push(Drained {
                    hash: *hash,
                    key: Arc::clone(&entry.key),
                    shape: Arc::clone(&entry.shape),
                    figures,
                });
            }
        }
        out
    }

    /// Puts back figures a failed flush could not persist (for shapes still held), so that
    /// the next flush writes them.
    pub(crate) fn restore(&self, drained: Vec<Drained>) {
        for d in drained {
            let mut shard = self.shard(d.hash);
            if let Some(entry) = shard.entries.get_mut(&d.hash) {
                entry.pending.merge(&d.figures);
            }
        }
    }
}
