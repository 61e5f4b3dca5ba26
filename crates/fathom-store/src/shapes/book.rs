//! The shape book: this node's query shapes with the figures recorded since the last flush.
//!
//! Recording sits on every read, so it is lock-light and allocation-free for a shape already
//! held: the read's shape is hashed straight from its parts ([`Probe::hash`], no strings built)
//! into one of 16 shards, each a small map behind its own mutex held for a few counter updates;
//! only a shape seen for the first time is built in full ([`Probe::shape`]).
//!
//! Memory is bounded: the book holds at most `max_shapes` shapes, split evenly over the shards.
//! A new shape arriving at a full shard evicts the shard's least-used shape: the one called
//! least often on this node since it entered the book, the least recently seen among equals.
//! Its figures not yet flushed are lost (counted in `evicted`).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
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
        self.limit.map(|l| l.max(1).checked_next_power_of_two().unwrap_or(u32::MAX))
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
    pending: Figures,
}

struct Shard {
    entries: HashMap<u64, Entry>,
    capacity: usize,
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
        let max = max_shapes.max(1);
        let count = SHARDS.min(max);
        let shards = (0..count)
            .map(|n| {
                Mutex::new(Shard {
                    entries: HashMap::new(),
                    capacity: max / count + usize::from(n < max % count),
                })
            })
            .collect();
        Self {
            enabled,
            max_shapes: max,
            shards,
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
        self.shards[n].lock().unwrap_or_else(PoisonError::into_inner)
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
        let mut shard = self.shard(ticket.hash);
        if let Some(entry) = shard.entries.get_mut(&ticket.hash) {
            entry.uses += 1;
            entry.pending.record(sample, now);
            return;
        }
        // Held when the ticket was taken but evicted since: this call goes uncounted.
        let Some(shape) = ticket.shape else {
            return;
        };
        if shard.entries.len() >= shard.capacity {
            let victim = shard
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.uses, e.pending.last_seen_ms))
                .map(|(h, _)| *h);
            if let Some(victim) = victim {
                shard.entries.remove(&victim);
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        let key: Arc<str> = persisted_key(&shape).into();
        let mut pending = Figures::default();
        pending.record(sample, now);
        shard.entries.insert(
            ticket.hash,
            Entry {
                shape: Arc::from(shape),
                key,
                uses: 1,
                pending,
            },
        );
    }

    /// How many shapes the book holds.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).entries.len())
            .sum()
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
