//! The hash-chained audit log, backend-neutral part: the entry types, the canonical encoding and
//! hash that chain every entry to its predecessor, the entries a unit of work writes for the
//! collections that opt in with `audit = true`, retention's checkpoint, and the [`Verifier`]
//! that walks the chain. The backends (`sqlite/audit.rs`, `postgres/audit.rs`) store the
//! entries and serialise appends so that the chain stays linear.
//!
//! Entry `n` stores `hash_n = SHA-256(canonical(n, fields of n, hash_{n-1}))`, with the
//! sequence numbers gap-free from 1 and `hash_0` = [`GENESIS`]. The head row (`seq`, `hash` of
//! the newest entry) is updated with every append, so the removal of the newest entries is seen
//! too. Pruning removes a prefix and appends a checkpoint entry naming the last pruned sequence
//! and its hash; the oldest remaining entry must chain to it.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::events::{Actor, Draft, Origin};

/// The predecessor of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of the entry pruning appends.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";

/// At most this many entries are removed by one pruning step.
pub(crate) const PRUNE_BATCH: i64 = 1000;

/// One security-relevant event. Never holds a secret, nor a record's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    /// What happened: `login`, `lockout`, `refresh_reuse`, `password_change`, `record.update`, ...
    pub action: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
    /// The collection of a record change.
    pub collection: Option<String>,
    /// The names of the fields a record change wrote (never their values).
    pub changed: Vec<String>,
}

/// An audit entry as stored, with its sequence number, time and chain hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub entry: AuditEntry,
    /// The hash of the entry before this one ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// SHA-256 over this entry's canonical form and `prev_hash`, lowercase hex.
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record's fields call for.
    pub fn expected_hash(&self) -> String {
        chain_hash(self.seq, &self.at, &self.entry, &self.prev_hash)
    }
}

/// The newest entry's sequence and hash (0 and [`GENESIS`] while the log is empty): what an
/// operator exports to anchor the chain elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// The filters of an audit log read; every one optional. Newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub collection: Option<String>,
    /// Entries at or after this canonical timestamp.
    pub since: Option<String>,
    /// Entries before this canonical timestamp.
    pub until: Option<String>,
    /// Entries with a smaller sequence than this (the cursor of the next page).
    pub before: Option<i64>,
    pub limit: u32,
}

/// How long audit entries are kept; `None` keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditRetention {
    pub max_age: Option<Duration>,
    pub max_count: Option<u64>,
}

impl AuditRetention {
    pub fn keeps_everything(&self) -> bool {
        self.max_age.is_none() && self.max_count.is_none()
    }

    /// The canonical timestamp before which entries are due, if an age limit is set.
    pub(crate) fn cutoff(&self) -> Option<String> {
        self.max_age.map(fathom_schema::value::timestamp_before)
    }
}

/// The stored text of the `changed` column: `NULL` when no field names.
pub(crate) fn changed_column(entry: &AuditEntry) -> Option<String> {
    (!entry.changed.is_empty()).then(|| serde_json::Value::from(entry.changed.clone()).to_string())
}

/// The entry's `changed` names from the stored column.
pub(crate) fn changed_from_column(column: Option<String>) -> Vec<String> {
    column
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or_default()
}

/// SHA-256 over the canonical encoding of one entry and its predecessor's hash, in lowercase
/// hex. Every field is framed (a presence byte, then a length and the bytes), so no two
/// different entries encode alike however their texts are chosen.
pub fn chain_hash(seq: i64, at: &str, entry: &AuditEntry, prev_hash: &str) -> String {
    let changed = changed_column(entry);
    let fields: [Option<&str>; 13] = [
        Some("fathom-audit-v1"),
        Some(&seq.to_string()),
        Some(at),
        Some(&entry.action),
        Some(&entry.outcome),
        entry.actor.as_deref(),
        entry.target.as_deref(),
        entry.request_id.as_deref(),
        entry.ip.as_deref(),
        entry.detail.as_deref(),
        entry.collection.as_deref(),
        changed.as_deref(),
        Some(prev_hash),
    ];
    let mut hasher = Sha256::new();
    for field in fields {
        match field {
            None => hasher.update([0u8]),
            Some(text) => {
                hasher.update([1u8]);
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
        }
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Chains `entries` after `head`, stamping each with `at`; returns the records to insert.
pub(crate) fn chain(head: &AuditHead, at: &str, entries: &[AuditEntry]) -> Vec<AuditRecord> {
    let mut prev = head.clone();
    entries
        .iter()
        .map(|entry| {
            let seq = prev.seq + 1;
            let hash = chain_hash(seq, at, entry, &prev.hash);
            let record = AuditRecord {
                seq,
                at: at.to_owned(),
                entry: entry.clone(),
                prev_hash: std::mem::replace(&mut prev.hash, hash.clone()),
                hash,
            };
            prev.seq = seq;
            record
        })
        .collect()
}

/// The audit entries of a unit of work's changes to collections with `audit = true`.
pub(crate) fn record_entries(drafts: &[Draft], origin: &Origin) -> Vec<AuditEntry> {
    drafts
        .iter()
        .filter_map(|draft| {
            let action = draft.audit?;
            Some(AuditEntry {
                action: action.to_owned(),
                outcome: "success".into(),
                actor: actor_text(origin.actor),
                target: Some(draft.record_id.hyphenated().to_string()),
                request_id: origin.request_id.clone(),
                ip: None,
                detail: draft
                    .tenant
                    .as_ref()
                    .map(|t| json!({ "tenant": t }).to_string()),
                collection: Some(draft.collection.clone()),
                changed: draft.changed.clone(),
            })
        })
        .collect()
}

/// The audit log's form of an actor: a user's id as the other entries name accounts, an API key
/// as `api_key:<id>`, the server itself as no actor.
pub fn actor_text(actor: Actor) -> Option<String> {
    match actor {
        Actor::User(id) => Some(id.hyphenated().to_string()),
        Actor::ApiKey(id) => Some(format!("api_key:{}", id.hyphenated())),
        Actor::System => None,
    }
}

/// The entry a migration writes in its own transaction: the version it makes and its steps
/// (descriptions name collections and fields, never values).
pub(crate) fn migration(plan: &crate::plan::MigrationPlan) -> AuditEntry {
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.description.as_str()).collect();
    AuditEntry {
        action: "schema_migrated".into(),
        outcome: "success".into(),
        target: Some(format!("version {}", plan.from_version + 1)),
        detail: Some(steps.join("; ")),
        ..AuditEntry::default()
    }
}

/// The checkpoint pruning appends after removing entries `..= through` (`through_hash` being
/// the hash of the last one removed).
pub(crate) fn checkpoint(through: i64, through_hash: &str, removed: usize) -> AuditEntry {
    AuditEntry {
        action: CHECKPOINT_ACTION.into(),
        outcome: "success".into(),
        detail: Some(
            json!({ "pruned_through": through, "hash": through_hash, "removed": removed })
                .to_string(),
        ),
        ..AuditEntry::default()
    }
}

/// The last sequence a pruning step removes: the due bound, kept below the head (the newest
/// entry is never pruned) and to one batch after the oldest entry; `None` when nothing is due.
pub(crate) fn bound(due: Option<i64>, oldest: Option<i64>, head: i64) -> Option<i64> {
    let oldest = oldest?;
    let through = due?.min(head - 1).min(oldest + PRUNE_BATCH - 1);
    (through >= oldest).then_some(through)
}

/// Whether `entries` (checkpoints not counted) exceed a count limit.
pub(crate) fn over_count(entries: i64, limit: u64) -> bool {
    u64::try_from(entries).is_ok_and(|n| n > limit)
}

/// The last pruned sequence and its hash a checkpoint entry records.
fn checkpoint_of(entry: &AuditEntry) -> Option<(i64, String)> {
    if entry.action != CHECKPOINT_ACTION {
        return None;
    }
    let detail: serde_json::Value = serde_json::from_str(entry.detail.as_deref()?).ok()?;
    Some((
        detail.get("pruned_through")?.as_i64()?,
        detail.get("hash")?.as_str()?.to_owned(),
    ))
}

/// What is wrong with the chain, at the first entry found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The sequence of the entry found wrong (or of the first one missing).
    pub seq: i64,
    pub kind: BreakKind,
    /// A sentence for the operator.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// The entry's fields no longer give its stored hash.
    Altered,
    /// Entries are missing before this one (or at the end, against the head).
    Removed,
    /// The entry does not chain to its predecessor: it was put in, or its predecessor replaced.
    Inserted,
}

impl BreakKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Altered => "altered",
            Self::Removed => "removed",
            Self::Inserted => "inserted",
        }
    }
}

/// Walks the chain in sequence order, one record at a time ([`Verifier::next`]), then checks
/// the end against the head ([`Verifier::finish`]). Whether the oldest remaining entry may
/// follow pruned ones is decided at the end, from the newest checkpoint seen in the chain
/// (checkpoints are always newer than what they describe).
#[derive(Debug, Default)]
pub struct Verifier {
    /// The head read before the walk, when known: an entry beyond it was put in.
    pub head: Option<AuditHead>,
    first: Option<(i64, String)>,
    last: Option<(i64, String)>,
    /// The newest checkpoint: last pruned sequence and its hash.
    checkpoint: Option<(i64, String)>,
    /// How many entries were checked.
    pub checked: u64,
}

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier that knows the head: an entry numbered beyond it is reported as inserted
    /// (a walker that may meet entries appended during the walk re-reads the head first).
    pub fn with_head(head: AuditHead) -> Self {
        Self {
            head: Some(head),
            ..Self::default()
        }
    }

    /// Checks one record, the one after the previous record given.
    pub fn next(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if let Some(head) = self.head.as_ref().filter(|h| record.seq > h.seq) {
            return Err(ChainBreak {
                seq: record.seq,
                kind: BreakKind::Inserted,
                message: format!(
                    "entry {} ({}) was inserted: it lies beyond the head, entry {}",
                    record.seq, record.entry.action, head.seq
                ),
            });
        }
        if record.expected_hash() != record.hash {
            return Err(ChainBreak {
                seq: record.seq,
                kind: BreakKind::Altered,
                message: format!(
                    "entry {} ({}) was altered: its fields no longer give its stored hash",
                    record.seq, record.entry.action
                ),
            });
        }
        match &self.last {
            Some((seq, _)) if record.seq > seq + 1 => {
                return Err(ChainBreak {
                    seq: seq + 1,
                    kind: BreakKind::Removed,
                    message: format!(
                        "entries {} to {} were removed (entry {} follows entry {seq})",
                        seq + 1,
                        record.seq - 1,
                        record.seq
                    ),
                });
            }
            Some((seq, hash)) if record.seq <= *seq || record.prev_hash != *hash => {
                return Err(ChainBreak {
                    seq: record.seq,
                    kind: BreakKind::Inserted,
                    message: format!(
                        "entry {} ({}) was inserted or replaced: it does not chain to entry {seq}",
                        record.seq, record.entry.action
                    ),
                });
            }
            _ => {}
        }
        if self.first.is_none() {
            self.first = Some((record.seq, record.prev_hash.clone()));
        }
        if let Some(found) = checkpoint_of(&record.entry)
            && self.checkpoint.as_ref().is_none_or(|c| found.0 > c.0)
        {
            self.checkpoint = Some(found);
        }
        self.last = Some((record.seq, record.hash.clone()));
        self.checked += 1;
        Ok(())
    }

    /// Checks the start (genesis, or the newest checkpoint) and the end (the head row).
    pub fn finish(&self, head: &AuditHead) -> Result<(), ChainBreak> {
        if let Some((seq, prev)) = &self.first {
            let (start, start_hash) = match &self.checkpoint {
                Some((through, hash)) if *seq > 1 => (through + 1, hash.as_str()),
                _ => (1, GENESIS),
            };
            if *seq > start {
                return Err(ChainBreak {
                    seq: start,
                    kind: BreakKind::Removed,
                    message: format!(
                        "entries {start} to {} were removed without a checkpoint",
                        seq - 1
                    ),
                });
            }
            if *seq < start || prev != start_hash {
                return Err(ChainBreak {
                    seq: *seq,
                    kind: BreakKind::Inserted,
                    message: format!(
                        "entry {seq} was inserted or replaced: it does not chain to {}",
                        if start == 1 {
                            "the start of the log".to_owned()
                        } else {
                            format!("the checkpoint of pruned entry {}", start - 1)
                        }
                    ),
                });
            }
        }
        let (last_seq, last_hash) = self.last.clone().unwrap_or_else(|| (0, GENESIS.to_owned()));
        if head.seq > last_seq {
            return Err(ChainBreak {
                seq: last_seq + 1,
                kind: BreakKind::Removed,
                message: format!(
                    "entries {} to {} were removed: the head names entry {}",
                    last_seq + 1,
                    head.seq,
                    head.seq
                ),
            });
        }
        if head.seq < last_seq || head.hash != last_hash {
            return Err(ChainBreak {
                seq: last_seq,
                kind: BreakKind::Inserted,
                message: format!(
                    "entry {last_seq} is not the head the log recorded (entry {} with another hash): entries were added or the head was changed",
                    head.seq
                ),
            });
        }
        Ok(())
    }
}

mod handle;
#[cfg(test)]
mod tests;
