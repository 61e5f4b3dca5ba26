//! The bounded memory of who reads what on this node: per caller (user, API key, or client
//! address when anonymous) a short ring of recent reads and the run of pages being read. It is
//! fed by every records read, so it takes no lock shared by all requests: callers are spread
//! over shards, each a small mutex held for a few comparisons, and a caller's ring is allocated
//! once, when the caller is first seen (an evicted caller's ring is reused for the newcomer).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Instant;

use uuid::Uuid;

/// How many shards callers are spread over (fewer when fewer callers are allowed).
const SHARDS: usize = 16;

/// Who a read came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerId {
    /// A signed-in user (administrators included).
    User(Uuid),
    /// A service holding an API key.
    ApiKey(Uuid),
    /// Nobody signed in: the client address (unspecified when the peer is unknown).
    Anonymous(IpAddr),
}

/// The kind of a caller, which is all a finding says about who it was (with a short hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallerKind {
    User,
    ApiKey,
    Anonymous,
}

impl CallerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiKey => "api_key",
            Self::Anonymous => "anonymous",
        }
    }
}

impl CallerId {
    pub fn kind(&self) -> CallerKind {
        match self {
            Self::User(_) => CallerKind::User,
            Self::ApiKey(_) => CallerKind::ApiKey,
            Self::Anonymous(_) => CallerKind::Anonymous,
        }
    }

    /// The identity's bytes, for its short hash.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Self::User(id) | Self::ApiKey(id) => id.as_bytes().to_vec(),
            Self::Anonymous(IpAddr::V4(ip)) => ip.octets().to_vec(),
            Self::Anonymous(IpAddr::V6(ip)) => ip.octets().to_vec(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// `GET /api/v1/{collection}`.
    List,
    /// `GET /api/v1/{collection}/{id}`.
    Get,
}

/// One read, without any of its values: what was read and how it was paged.
#[derive(Debug, Clone, Copy)]
pub struct Read {
    pub at: Instant,
    /// The collection, as [`Collections`] numbers it.
    pub collection: u16,
    pub kind: ReadKind,
    pub offset: u64,
    pub limit: u32,
    /// The records answered; `None` when a cached answer was served (not counted again).
    pub returned: Option<u32>,
    /// `count=true`.
    pub count: bool,
    /// A `cursor` was followed.
    pub cursor: bool,
    /// A `filter` or `ids` narrowed the list.
    pub filtered: bool,
    /// The total `count=true` answered.
    pub total: Option<u64>,
}

impl Read {
    /// A get by id of a record of `collection`.
    pub fn get(collection: u16) -> Self {
        Self {
            at: Instant::now(),
            collection,
            kind: ReadKind::Get,
            offset: 0,
            limit: 1,
            returned: None,
            count: false,
            cursor: false,
            filtered: false,
            total: None,
        }
    }

    /// Whether the page came back full (another page may follow); unknown counts as full.
    pub fn full(&self) -> bool {
        self.returned.is_none_or(|n| n >= self.limit)
    }
}

/// Consecutive pages of one collection read by one caller, each following the one before (by
/// cursor, or at the offset where the previous page ended).
#[derive(Debug, Clone, Copy)]
pub struct PageRun {
    pub collection: u16,
    pub pages: u32,
    /// Consecutive pages, up to the last, that asked for `count=true`.
    pub counted: u32,
    /// Records read (a cached page counts as full).
    pub rows: u64,
    /// Where the next page starts when paged by offset.
    pub next_offset: u64,
    /// The largest total `count=true` answered.
    pub total: Option<u64>,
    /// Whether any page had a filter.
    pub filtered: bool,
    /// Whether the last page came back short (the end of the collection).
    pub reached_end: bool,
    pub started: Instant,
    pub scan_reported: bool,
    pub count_reported: bool,
}

/// What this node remembers of one caller.
#[derive(Debug)]
pub struct CallerState {
    pub id: CallerId,
    last_seen: u64,
    /// The ring of recent reads; `seq % capacity` is where the next one goes.
    reads: Vec<Read>,
    capacity: usize,
    /// Reads recorded for this caller so far.
    seq: u64,
    pub run: Option<PageRun>,
    /// The sequence number of the list whose N+1 burst was already reported.
    pub burst_reported: Option<u64>,
}

impl CallerState {
    fn new(id: CallerId, capacity: usize) -> Self {
        Self {
            id,
            last_seen: 0,
            reads: Vec::with_capacity(capacity),
            capacity,
            seq: 0,
            run: None,
            burst_reported: None,
        }
    }

    /// Makes this slot another caller's, keeping the ring's allocation.
    fn reset(&mut self, id: CallerId) {
        self.id = id;
        self.reads.clear();
        self.seq = 0;
        self.run = None;
        self.burst_reported = None;
    }

    /// Adds a read, forgetting the oldest when the ring is full.
    pub fn push(&mut self, read: Read) {
        if self.reads.len() < self.capacity {
            self.reads.push(read);
        } else {
            let slot = usize::try_from(self.seq % self.capacity as u64).unwrap_or(0);
            self.reads[slot] = read;
        }
        self.seq += 1;
    }

    /// The remembered reads, oldest first, each with its sequence number.
    pub fn reads(&self) -> impl DoubleEndedIterator<Item = (u64, &Read)> {
        let len = self.reads.len() as u64;
        let first = self.seq - len;
        (first..self.seq).map(move |seq| {
            let slot = usize::try_from(seq % self.capacity as u64).unwrap_or(0);
            (seq, &self.reads[slot])
        })
    }

    /// How many reads are remembered (at most the window).
    pub fn remembered(&self) -> usize {
        self.reads.len()
    }
}

/// One shard: its callers in slots, an index by identity, and a clock of last sightings.
#[derive(Debug, Default)]
struct Shard {
    callers: Vec<CallerState>,
    index: HashMap<CallerId, usize>,
    clock: u64,
}

/// Every caller this node remembers, at most `max_callers` of them.
#[derive(Debug)]
pub struct Recorder {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    window: usize,
    hasher: std::hash::RandomState,
}

impl Recorder {
    /// Remembers at most `max_callers` callers (at least one) and `window` reads of each.
    pub fn new(max_callers: usize, window: usize) -> Self {
        let max_callers = max_callers.max(1);
        let shards = SHARDS.min(max_callers);
        Self {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_callers / shards,
            window: window.max(1),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Runs `f` on `id`'s state, first making room for a new caller by forgetting the least
    /// recently seen one of its shard. Eviction scans the shard (a few hundred slots at most),
    /// which is cheaper than keeping a recency list in order on every read.
    pub fn with_caller<R>(&self, id: CallerId, f: impl FnOnce(&mut CallerState) -> R) -> R {
        let shard_index =
            usize::try_from(self.hasher.hash_one(id) % self.shards.len() as u64).unwrap_or(0);
        let mut shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.clock += 1;
        let now = shard.clock;
        let slot = match shard.index.get(&id) {
            Some(&slot) => slot,
            None if shard.callers.len() < self.per_shard => {
                shard.callers.push(CallerState::new(id, self.window));
                let slot = shard.callers.len() - 1;
                shard.index.insert(id, slot);
                slot
            }
            None => {
                let slot = shard
                    .callers
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, caller)| caller.last_seen)
                    .map_or(0, |(slot, _)| slot);
                let old = shard.callers[slot].id;
                shard.index.remove(&old);
                shard.callers[slot].reset(id);
                shard.index.insert(id, slot);
                slot
            }
        };
        let caller = &mut shard.callers[slot];
        caller.last_seen = now;
        f(caller)
    }

    /// How many callers are remembered now.
    pub fn callers(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .callers
                    .len()
            })
            .sum()
    }

    /// The most reads remembered of any one caller.
    pub fn largest_window(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| {
                let shard = s.lock().unwrap_or_else(PoisonError::into_inner);
                shard
                    .callers
                    .iter()
                    .map(CallerState::remembered)
                    .max()
                    .into_iter()
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(0)
    }

    /// Whether `id` is remembered.
    pub fn remembers(&self, id: CallerId) -> bool {
        self.shards.iter().any(|s| {
            s.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .index
                .contains_key(&id)
        })
    }
}

/// Collection names numbered, so that a remembered read holds two bytes, not a string. The
/// names come from the served schemas (a read names an existing collection), so the table stays
/// as small as the schemas; past `u16::MAX` names, reads are no longer numbered.
#[derive(Debug, Default)]
pub struct Collections {
    numbers: RwLock<HashMap<String, u16>>,
    names: RwLock<Vec<String>>,
}

impl Collections {
    /// The number of `name`, numbering it on first sight.
    pub fn number(&self, name: &str) -> Option<u16> {
        if let Some(&n) = self
            .numbers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return Some(n);
        }
        let mut numbers = self.numbers.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(&n) = numbers.get(name) {
            return Some(n);
        }
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        let n = u16::try_from(names.len()).ok()?;
        names.push(name.to_owned());
        numbers.insert(name.to_owned(), n);
        Some(n)
    }

    /// The name numbered `n`.
    pub fn name(&self, n: u16) -> String {
        self.names
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(usize::from(n))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anonymous(n: u32) -> CallerId {
        CallerId::Anonymous(IpAddr::from(n.to_be_bytes()))
    }

    #[test]
    fn a_flood_of_distinct_callers_stays_within_the_bound() {
        let recorder = Recorder::new(256, 8);
        for n in 0..50_000u32 {
            recorder.with_caller(anonymous(n), |caller| {
                for _ in 0..3 {
                    caller.push(Read::get(0));
                }
            });
            if n % 1000 == 0 {
                assert!(
                    recorder.callers() <= 256,
                    "over the bound after {n} callers"
                );
            }
        }
        assert_eq!(recorder.callers(), 256, "full, and never more");
        assert!(recorder.remembers(anonymous(49_999)), "the newest is kept");
        assert!(!recorder.remembers(anonymous(0)), "the oldest went first");
        // Every shard's index agrees with its slots: no leaked entries.
        for shard in recorder.shards.iter() {
            let shard = shard.lock().unwrap();
            assert_eq!(shard.index.len(), shard.callers.len());
            assert!(shard.callers.len() <= recorder.per_shard);
        }
    }

    #[test]
    fn a_callers_window_keeps_only_its_most_recent_reads() {
        let recorder = Recorder::new(4, 8);
        let id = anonymous(1);
        for n in 0..100u64 {
            recorder.with_caller(id, |caller| {
                let mut read = Read::get(0);
                read.offset = n;
                caller.push(read);
            });
        }
        assert_eq!(recorder.largest_window(), 8);
        let offsets: Vec<u64> =
            recorder.with_caller(id, |caller| caller.reads().map(|(_, r)| r.offset).collect());
        assert_eq!(offsets, (92..100).collect::<Vec<_>>(), "oldest first");
    }

    #[test]
    fn the_least_recently_seen_caller_is_evicted_not_the_busy_one() {
        // One shard of two: the caller seen again survives the newcomer.
        let recorder = Recorder::new(1, 4);
        assert_eq!(recorder.shards.len(), 1);
        let recorder = Recorder {
            per_shard: 2,
            ..recorder
        };
        recorder.with_caller(anonymous(1), |_| {});
        recorder.with_caller(anonymous(2), |_| {});
        recorder.with_caller(anonymous(1), |_| {});
        recorder.with_caller(anonymous(3), |_| {});
        assert!(recorder.remembers(anonymous(1)));
        assert!(!recorder.remembers(anonymous(2)));
        assert!(recorder.remembers(anonymous(3)));
    }

    #[test]
    fn collections_are_numbered_once() {
        let collections = Collections::default();
        assert_eq!(collections.number("tasks"), Some(0));
        assert_eq!(collections.number("users"), Some(1));
        assert_eq!(collections.number("tasks"), Some(0));
        assert_eq!(collections.name(1), "users");
    }
}
