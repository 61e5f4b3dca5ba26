//! Client advice: the patterns found in a caller's recent reads (N+1 bursts, large offsets,
//! `count=true` on every page, unbounded page scans), tallied per caller kind, collection and
//! kind, and told as `Finding`s with the request to make instead. The caller's identity is never
//! shown: only its kind and a short salted hash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use fathom_architect::{Change, Finding, FindingKind, Severity};
use fathom_schema::{FieldType, Schema};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::patterns::{Pattern, observe};
use super::recorder::{CallerId, CallerKind, Collections, Read, ReadKind, Recorder};
use super::settings::ClientAdviceSettings;
use crate::records::params::MAX_IDS;

/// The most distinct findings kept; past it, new patterns are not tallied (the ones kept
/// still count). Collections × kinds × caller kinds stays far below it in practice.
const MAX_FINDINGS: usize = 1024;
/// The most caller hashes a finding lists.
const MAX_CALLER_HASHES: usize = 8;

/// One tallied finding: what identifies it, and what has been seen of it.
type Key = (CallerKind, String, FindingKind, Option<String>);

#[derive(Debug, Clone)]
struct Tally {
    occurrences: u64,
    callers: BTreeSet<String>,
    more_callers: bool,
    first_seen: OffsetDateTime,
    last_seen: OffsetDateTime,
    /// The largest occurrence: the most gets, the deepest offset, the longest run.
    peak: Pattern,
    /// The caller's window when the pattern was last seen, as paths without values.
    window: Vec<String>,
}

/// This node's client advice: the recorder and the tally of what it found.
#[derive(Debug)]
pub struct ClientAdvice {
    pub settings: ClientAdviceSettings,
    recorder: Recorder,
    collections: Collections,
    tallies: Mutex<BTreeMap<Key, Tally>>,
    /// Mixed into the callers' hashes, so that a hash cannot be checked against a guessed
    /// address or id (an IPv4 address is easy to guess).
    salt: [u8; 16],
}

impl ClientAdvice {
    pub fn new(settings: ClientAdviceSettings) -> Self {
        let mut salt = [0u8; 16];
        // Without randomness the hashes are still short and one-way; only guessing is easier.
        let _ = getrandom::fill(&mut salt);
        Self {
            recorder: Recorder::new(settings.max_callers, settings.window),
            settings,
            collections: Collections::default(),
            tallies: Mutex::new(BTreeMap::new()),
            salt,
        }
    }

    /// Records a read of `collection` by `caller` (nothing when client advice is off). The
    /// request's path costs a shard lock and a few comparisons; only a found pattern allocates.
    pub fn record(&self, caller: CallerId, collection: &str, read: impl FnOnce(u16) -> Read) {
        if !self.settings.enabled {
            return;
        }
        let Some(number) = self.collections.number(collection) else {
            return;
        };
        let read = read(number);
        let found = self.recorder.with_caller(caller, |state| {
            let found = observe(state, read, &self.settings);
            if found.is_empty() {
                return None;
            }
            let window: Vec<Read> = state.reads().map(|(_, r)| *r).collect();
            Some((found, window))
        });
        if let Some((found, window)) = found {
            let window = self.describe_window(&window);
            for (collection, pattern) in found {
                self.tally(caller, collection, pattern, window.clone());
            }
        }
    }

    /// The recorder (for its bound's tests).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn tally(&self, caller: CallerId, collection: u16, pattern: Pattern, window: Vec<String>) {
        let target = match pattern {
            Pattern::NPlusOne { target, .. } => Some(self.collections.name(target)),
            _ => None,
        };
        let key = (
            caller.kind(),
            self.collections.name(collection),
            pattern.kind(),
            target,
        );
        let hash = self.short_hash(caller);
        let now = OffsetDateTime::now_utc();
        let mut tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        if !tallies.contains_key(&key) && tallies.len() >= MAX_FINDINGS {
            return;
        }
        let tally = tallies.entry(key).or_insert_with(|| Tally {
            occurrences: 0,
            callers: BTreeSet::new(),
            more_callers: false,
            first_seen: now,
            last_seen: now,
            peak: pattern,
            window: Vec::new(),
        });
        tally.occurrences += 1;
        tally.last_seen = now;
        tally.window = window;
        if tally.callers.len() < MAX_CALLER_HASHES {
            tally.callers.insert(hash);
        } else if !tally.callers.contains(&hash) {
            tally.more_callers = true;
        }
        if peak_of(pattern) > peak_of(tally.peak) {
            tally.peak = pattern;
        }
    }

    /// Eight hex digits of a salted SHA-256 of the caller's identity.
    fn short_hash(&self, caller: CallerId) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(caller.kind().as_str().as_bytes());
        hasher.update(caller.bytes());
        let digest = hasher.finalize();
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The reads of a window as requests without values, each with its time after the first.
    fn describe_window(&self, reads: &[Read]) -> Vec<String> {
        let Some(first) = reads.first() else {
            return Vec::new();
        };
        reads
            .iter()
            .map(|read| {
                let after = read.at.saturating_duration_since(first.at).as_millis();
                format!(
                    "+{after} ms {}",
                    request_of(&self.collections.name(read.collection), read)
                )
            })
            .collect()
    }

    /// Every client finding, most severe and most frequent first.
    pub fn findings(&self, schema: &Schema) -> Vec<Finding> {
        let tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        let mut findings: Vec<(u64, Finding)> = tallies
            .iter()
            .map(|(key, tally)| (tally.occurrences, self.finding(schema, key, tally)))
            .collect();
        drop(tallies);
        findings.sort_by(|(a_count, a), (b_count, b)| {
            b.severity
                .cmp(&a.severity)
                .then(b_count.cmp(a_count))
                .then(a.title.cmp(&b.title))
        });
        findings.into_iter().map(|(_, f)| f).collect()
    }

    fn finding(&self, schema: &Schema, key: &Key, tally: &Tally) -> Finding {
        let (caller_kind, collection, kind, _) = key;
        let s = &self.settings;
        let mut evidence = json!({
            "caller_kind": caller_kind.as_str(),
            "callers": tally.callers,
            "more_callers": tally.more_callers,
            "occurrences": tally.occurrences,
            "first_seen": tally.first_seen.format(&Rfc3339).unwrap_or_default(),
            "last_seen": tally.last_seen.format(&Rfc3339).unwrap_or_default(),
            "window": tally.window,
        });
        let list = format!("/api/v1/{collection}");
        let (severity, title, extra, gain, advice) = match tally.peak {
            Pattern::NPlusOne {
                target,
                gets,
                span_ms,
            } => {
                let target = self.collections.name(target);
                let relation = relation_to(schema, collection, &target);
                let suggestion = match &relation {
                    Some(field) => format!("expand={field}"),
                    None => "filter=id in [...]".to_owned(),
                };
                let advice = match &relation {
                    Some(field) => format!(
                        "Ask for the related records with the list: GET {list}?expand={field} \
                         returns each `{collection}` record with its `{field}` (`{target}`) \
                         inside, in one request instead of one get per record."
                    ),
                    None => format!(
                        "Read the `{target}` records in one request: GET /api/v1/{target}?filter=id in \
                         [\"<id>\", \"<id>\", ...] (or ids=<id>,<id>,..., up to {MAX_IDS} ids) \
                         instead of one get per record."
                    ),
                };
                (
                    Severity::Warning,
                    format!(
                        "N+1 requests: {gets} gets by id on `{target}` within {span_ms} ms after a list of `{collection}`"
                    ),
                    json!({
                        "list_collection": collection,
                        "target_collection": target,
                        "gets": gets,
                        "span_ms": span_ms,
                        "threshold": { "gets": s.n_plus_one_gets, "window_ms": s.n_plus_one_window.as_millis() },
                        "relation": relation,
                        "suggestion": suggestion,
                        "example": format!("GET {list}, then GET /api/v1/{target}/{{id}} x {gets}"),
                    }),
                    format!("{} requests per page → 1", gets + 1),
                    advice,
                )
            }
            Pattern::LargeOffset { offset, limit } => (
                Severity::Warning,
                format!(
                    "Pages of `{collection}` read at offset {offset}, where a cursor would serve"
                ),
                json!({
                    "offset": offset,
                    "limit": limit,
                    "threshold": { "offset": s.large_offset },
                    "suggestion": "cursor=<meta.page.next>",
                    "example": format!("GET {list}?offset={offset}&limit={limit}"),
                }),
                format!("about {offset} rows read and skipped per page → 0"),
                format!(
                    "Page with the cursor instead of the offset: GET {list}?limit={limit}, then \
                     GET {list}?limit={limit}&cursor=<meta.page.next> for each next page. A cursor \
                     page costs the same at any depth; an offset page reads every row it skips."
                ),
            ),
            Pattern::CountEveryPage { pages, total } => (
                Severity::Info,
                format!(
                    "`count=true` on {pages} consecutive pages of `{collection}` ({total} records)"
                ),
                json!({
                    "consecutive_pages": pages,
                    "total": total,
                    "threshold": { "pages": s.count_pages, "records": s.large_collection },
                    "suggestion": "count=true on the first page only",
                    "example": format!("GET {list}?count=true&cursor=<cursor>"),
                }),
                format!("one count over {total} records per page → one per listing"),
                format!(
                    "Ask for the total once, on the first page (GET {list}?count=true), keep it, \
                     and leave `count` out of the next pages (GET {list}?cursor=<meta.page.next>)."
                ),
            ),
            Pattern::UnboundedScan {
                pages,
                rows,
                reached_end,
            } => (
                Severity::Warning,
                format!(
                    "One caller paged through `{collection}`: {pages} pages, {rows} records, no filter"
                ),
                json!({
                    "pages": pages,
                    "records": rows,
                    "reached_end": reached_end,
                    "threshold": { "pages": s.scan_pages, "records": s.large_collection },
                    "suggestion": "filter=<what the client needs>",
                    "example": format!("GET {list}?cursor=<cursor> x {pages}"),
                }),
                format!("{rows} records read per scan → the records the client needs"),
                format!(
                    "Ask only for what the client needs (GET {list}?filter=<condition>&sort=<field>), \
                     or keep a copy current from the change feed (GET /api/v1/events) or realtime \
                     instead of reading the whole collection again."
                ),
            ),
        };
        if let (Value::Object(evidence), Value::Object(extra)) = (&mut evidence, extra) {
            evidence.extend(extra);
        }
        Finding {
            kind: *kind,
            severity,
            collection: Some(collection.clone()),
            title,
            evidence,
            gain: Some(gain),
            change: Change {
                advice,
                ..Change::default()
            },
        }
    }
}

/// How much of a pattern was seen, to keep the largest occurrence as the finding's figures.
fn peak_of(pattern: Pattern) -> u64 {
    match pattern {
        Pattern::NPlusOne { gets, .. } => gets as u64,
        Pattern::LargeOffset { offset, .. } => offset,
        Pattern::CountEveryPage { pages, .. } => u64::from(pages),
        Pattern::UnboundedScan { rows, .. } => rows,
    }
}

/// The relation field of `from` that points at `to`, when it has one (the first, in schema order).
fn relation_to(schema: &Schema, from: &str, to: &str) -> Option<String> {
    schema.collection(from)?.fields.iter().find_map(|field| {
        matches!(&field.kind, FieldType::Relation { collection, .. } if collection == to)
            .then(|| field.name.clone())
    })
}

/// A read as its request, with every value replaced by a placeholder (offsets and limits are
/// paging figures, not data, so they stay).
fn request_of(collection: &str, read: &Read) -> String {
    match read.kind {
        ReadKind::Get => format!("GET /api/v1/{collection}/{{id}}"),
        ReadKind::List => {
            let mut query = Vec::new();
            if read.filtered {
                query.push("filter=<filter>".to_owned());
            }
            if read.cursor {
                query.push("cursor=<cursor>".to_owned());
            }
            if read.offset > 0 {
                query.push(format!("offset={}", read.offset));
            }
            query.push(format!("limit={}", read.limit));
            if read.count {
                query.push("count=true".to_owned());
            }
            format!("GET /api/v1/{collection}?{}", query.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::{Duration, Instant};

    use super::*;

    fn list(collection: u16, offset: u64, limit: u32, returned: u32) -> Read {
        Read {
            kind: ReadKind::List,
            offset,
            limit,
            returned: Some(returned),
            ..Read::get(collection)
        }
    }

    fn advice() -> ClientAdvice {
        ClientAdvice::new(ClientAdviceSettings::default())
    }

    fn caller() -> CallerId {
        CallerId::Anonymous(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    #[test]
    fn ten_gets_after_a_list_are_one_burst_and_two_are_a_page_load() {
        let advice = advice();
        advice.record(caller(), "tasks", |c| list(c, 0, 20, 20));
        for _ in 0..2 {
            advice.record(caller(), "users", Read::get);
        }
        assert!(advice.findings(&Schema::default()).is_empty());
        for _ in 0..10 {
            advice.record(caller(), "users", Read::get);
        }
        let findings = advice.findings(&Schema::default());
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].kind, FindingKind::NPlusOne);
        assert_eq!(findings[0].evidence["occurrences"], 1, "reported once");
        assert_eq!(findings[0].evidence["gets"], 10);
    }

    #[test]
    fn gets_later_than_the_window_after_the_list_are_no_burst() {
        let advice = advice();
        let long_ago = Instant::now() - Duration::from_secs(5);
        advice.record(caller(), "tasks", |c| Read {
            at: long_ago,
            ..list(c, 0, 20, 20)
        });
        for _ in 0..20 {
            advice.record(caller(), "users", Read::get);
        }
        assert!(advice.findings(&Schema::default()).is_empty());
    }

    #[test]
    fn consecutive_pages_make_a_run_and_a_filter_is_no_scan() {
        let settings = ClientAdviceSettings {
            scan_pages: 3,
            large_collection: 50,
            ..ClientAdviceSettings::default()
        };
        let advice = ClientAdvice::new(settings);
        for page in 0..3u64 {
            advice.record(caller(), "tasks", |c| Read {
                filtered: true,
                ..list(c, page * 20, 20, 20)
            });
        }
        assert!(advice.findings(&Schema::default()).is_empty());
        for page in 0..3u64 {
            advice.record(caller(), "tasks", |c| list(c, page * 20, 20, 20));
        }
        let findings = advice.findings(&Schema::default());
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].kind, FindingKind::UnboundedScan);
        assert_eq!(findings[0].evidence["records"], 60);
    }

    #[test]
    fn a_hash_names_no_caller_and_is_stable() {
        let advice = advice();
        let a = advice.short_hash(caller());
        assert_eq!(a.len(), 8);
        assert_eq!(a, advice.short_hash(caller()));
        assert!(!a.contains("127"));
    }
}
