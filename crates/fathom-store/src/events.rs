//! The outbox: one event per changed record, appended by the store inside the write's own
//! transaction, numbered by a global, gap-free sequence that increases in commit order.
//!
//! This module holds the backend-neutral part: the event types, the origin a unit of work
//! carries, and the drafting of an event from a write's outcome. The backends number and store
//! the drafts (`sqlite/events.rs`, `postgres/events.rs`) and read them back in order.

use serde::Serialize;
use uuid::Uuid;

use crate::record::{Record, WriteOp, WriteResult};

/// What happened to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOperation {
    Create,
    Update,
    Delete,
    /// A soft-deleted record was brought back (`POST /api/v1/{collection}/{id}/restore`).
    Restore,
}

impl EventOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Restore => "restore",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "create" => Some(Self::Create),
            "update" => Some(Self::Update),
            "delete" => Some(Self::Delete),
            "restore" => Some(Self::Restore),
            _ => None,
        }
    }
}

/// Who made a change. Serialised as `{"type": "user", "id": "..."}`, `{"type": "api_key", "id":
/// "..."}` or `{"type": "system"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in user (administrators included), by account id.
    User(Uuid),
    /// A service holding an API key, by key id.
    ApiKey(Uuid),
    /// The server itself: the CLI, the demo seed, background work.
    #[default]
    System,
}

impl Actor {
    /// The stored form: a kind and an optional id.
    pub(crate) fn columns(self) -> (&'static str, Option<String>) {
        match self {
            Self::User(id) => ("user", Some(id.hyphenated().to_string())),
            Self::ApiKey(id) => ("api_key", Some(id.hyphenated().to_string())),
            Self::System => ("system", None),
        }
    }

    pub(crate) fn from_columns(kind: &str, id: Option<&str>) -> Self {
        let id = id.and_then(|id| Uuid::parse_str(id).ok());
        match (kind, id) {
            ("user", Some(id)) => Self::User(id),
            ("api_key", Some(id)) => Self::ApiKey(id),
            _ => Self::System,
        }
    }
}

/// Where a unit of work comes from; every event it appends carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    /// The id of the HTTP request that made the change, if one did.
    pub request_id: Option<String>,
}

impl Origin {
    /// The server's own writes (CLI, demo, background work).
    pub fn system() -> Self {
        Self::default()
    }
}

/// One committed change of one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Global, gap-free, increasing in commit order: once a reader has seen N, no smaller
    /// number appears later.
    pub sequence: i64,
    /// The event's own id.
    pub id: Uuid,
    pub collection: String,
    pub record_id: Uuid,
    pub operation: EventOperation,
    /// The record's version after the change (for a hard delete: its last version).
    pub version: i64,
    pub tenant: Option<String>,
    /// The names of the fields written: every written field on create, the patched ones on
    /// update, none on delete.
    pub changed: Vec<String>,
    /// The record after the change in its API JSON form (see [`Record::to_json`]) with every
    /// field, hidden ones included: readers strip what their caller may not see. `None` after a
    /// hard delete.
    pub record: Option<serde_json::Map<String, serde_json::Value>>,
    pub actor: Actor,
    pub request_id: Option<String>,
    /// When the change was written, in the canonical timestamp form.
    pub committed_at: String,
}

/// A page of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The first retained sequence; 0 when the outbox holds no event.
    pub oldest: i64,
    /// The highest committed sequence; 0 before the first event.
    pub latest: i64,
}

/// An event before it has its sequence (given at the end of its transaction).
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub id: Uuid,
    pub collection: String,
    pub record_id: Uuid,
    pub operation: EventOperation,
    pub version: i64,
    pub tenant: Option<String>,
    pub changed: Vec<String>,
    pub record: Option<serde_json::Map<String, serde_json::Value>>,
    /// The audit action of the change (`record.create`, ...) when its collection has
    /// `audit = true`; the unit of work writes an audit entry for it (`audit::record_entries`).
    pub audit: Option<&'static str>,
}

impl Draft {
    /// The event of one applied operation: from the record the result carries, or for a delete
    /// the record `removed` as the database returned it.
    pub(crate) fn of_result(
        op: &WriteOp,
        result: &WriteResult,
        removed: Option<&Record>,
    ) -> Option<Self> {
        match (result, removed) {
            (WriteResult::Created(record) | WriteResult::Updated(record), _)
            | (WriteResult::Deleted { .. }, Some(record)) => Self::of(op, record),
            (WriteResult::Deleted { .. }, None) => None,
        }
    }

    /// The event of one applied operation, from the record as the database returned it after
    /// the change. An update that changed nothing (an empty patch) is no event.
    pub(crate) fn of(op: &WriteOp, after: &Record) -> Option<Self> {
        let names = |values: &[(String, fathom_schema::Value)]| {
            values.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()
        };
        Some(match op {
            WriteOp::Create {
                collection, values, ..
            } => Self::new(
                collection,
                EventOperation::Create,
                after,
                names(values),
                true,
            ),
            WriteOp::Update { values, .. } if values.is_empty() => return None,
            WriteOp::Update {
                collection, values, ..
            } => Self::new(
                collection,
                EventOperation::Update,
                after,
                names(values),
                true,
            ),
            WriteOp::Delete { collection, .. } => Self::new(
                collection,
                EventOperation::Delete,
                after,
                Vec::new(),
                collection.soft_delete,
            ),
            WriteOp::Purge { collection, .. } => {
                let mut draft =
                    Self::new(collection, EventOperation::Delete, after, Vec::new(), false);
                draft.audit = draft.audit.map(|_| "record.purge");
                draft
            }
            WriteOp::Restore { collection, .. } => Self::new(
                collection,
                EventOperation::Restore,
                after,
                vec!["deleted_at".into()],
                true,
            ),
        })
    }

    /// The event of a change to `after`, keeping the record when `keep_record`.
    pub(crate) fn new(
        collection: &fathom_schema::Collection,
        operation: EventOperation,
        after: &Record,
        changed: Vec<String>,
        keep_record: bool,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            collection: collection.name.clone(),
            record_id: after.id,
            operation,
            version: after.version,
            tenant: after.tenant.clone(),
            changed,
            record: keep_record.then(|| after.to_json()),
            audit: collection.audit.then_some(match operation {
                EventOperation::Create => "record.create",
                EventOperation::Update => "record.update",
                EventOperation::Delete => "record.delete",
                EventOperation::Restore => "record.restore",
            }),
        }
    }
}

/// The stored text of an event's JSON columns.
pub(crate) struct StoredJson {
    pub changed: String,
    pub record: Option<String>,
}

impl StoredJson {
    pub(crate) fn of(draft: &Draft) -> Self {
        Self {
            changed: serde_json::Value::from(draft.changed.clone()).to_string(),
            record: draft
                .record
                .as_ref()
                .map(|r| serde_json::Value::Object(r.clone()).to_string()),
        }
    }
}

/// The columns of a stored event as both backends read them back.
pub(crate) struct StoredEvent {
    pub sequence: i64,
    pub id: String,
    pub collection: String,
    pub record_id: String,
    pub operation: String,
    pub version: i64,
    pub tenant: Option<String>,
    pub changed: String,
    pub record: Option<String>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub request_id: Option<String>,
    pub committed_at: String,
}

impl StoredEvent {
    pub(crate) fn decode(self) -> Result<Event, crate::StoreError> {
        let bad = |what: &str| {
            crate::StoreError::internal(format!("event {} has a bad {what}", self.sequence))
        };
        let changed: Vec<String> =
            serde_json::from_str(&self.changed).map_err(|_| bad("changed list"))?;
        let record = match &self.record {
            Some(text) => match serde_json::from_str(text).map_err(|_| bad("record"))? {
                serde_json::Value::Object(map) => Some(map),
                _ => return Err(bad("record")),
            },
            None => None,
        };
        Ok(Event {
            sequence: self.sequence,
            id: Uuid::parse_str(&self.id).map_err(|_| bad("id"))?,
            collection: self.collection.clone(),
            record_id: Uuid::parse_str(&self.record_id).map_err(|_| bad("record id"))?,
            operation: EventOperation::parse(&self.operation).ok_or_else(|| bad("operation"))?,
            version: self.version,
            tenant: self.tenant.clone(),
            changed,
            record,
            actor: Actor::from_columns(&self.actor_type, self.actor_id.as_deref()),
            request_id: self.request_id.clone(),
            committed_at: self.committed_at.clone(),
        })
    }
}

/// How long and how many events the outbox keeps; the pruner enforces both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are removed.
    pub max_age: std::time::Duration,
    /// At most this many events are kept (the newest).
    pub max_count: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: std::time::Duration::from_secs(168 * 3600),
            max_count: 1_000_000,
        }
    }
}

/// The most rows one pruning statement removes, so a prune never holds the writer long.
pub(crate) const PRUNE_BATCH: i64 = 1_000;

/// The watch every backend advances when its events commit (and, on PostgreSQL, when another
/// node's do).
pub(crate) fn new_watch(latest: i64) -> tokio::sync::watch::Sender<i64> {
    tokio::sync::watch::Sender::new(latest)
}

/// Raises the watch to `latest` if that is news.
pub(crate) fn advance(watch: &tokio::sync::watch::Sender<i64>, latest: i64) {
    watch.send_if_modified(|seen| {
        if latest > *seen {
            *seen = latest;
            true
        } else {
            false
        }
    });
}

/// The canonical timestamp before which events are past `max_age`.
pub(crate) fn age_cutoff(max_age: std::time::Duration) -> String {
    let at = time::OffsetDateTime::now_utc()
        - time::Duration::try_from(max_age).unwrap_or(time::Duration::MAX);
    fathom_schema::value::format_timestamp(at)
        .unwrap_or_else(|| String::from("0000-01-01T00:00:00.000Z"))
}

/// The highest sequence one pruning batch removes (everything up to it), or `None` when
/// nothing is due. `first` and `last` are the oldest retained and the latest sequence;
/// `by_age` the highest sequence among the next batch that is past the age limit. The result
/// is below `last` (the latest event stays, so the sequence cannot seem to restart) and at most
/// [`PRUNE_BATCH`] rows beyond `first`, and never beyond `held` (the lowest position of the
/// delivery cursors that hold events: a consumer still needs every event after its position).
pub(crate) fn prune_bound(
    first: i64,
    last: i64,
    by_age: Option<i64>,
    retention: Retention,
    held: Option<i64>,
) -> Option<i64> {
    let keep = i64::try_from(retention.max_count.max(1)).unwrap_or(i64::MAX);
    let by_count = last.saturating_sub(keep);
    let upto = by_count
        .max(by_age.unwrap_or(0))
        .min(first + PRUNE_BATCH - 1)
        .min(last - 1)
        .min(held.unwrap_or(i64::MAX));
    (upto >= first).then_some(upto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keep(count: u64) -> Retention {
        Retention {
            max_age: std::time::Duration::from_secs(3600),
            max_count: count,
        }
    }

    #[test]
    fn pruning_removes_a_bounded_prefix_and_never_the_latest_event() {
        assert_eq!(prune_bound(1, 10, None, keep(100), None), None);
        assert_eq!(prune_bound(1, 10, None, keep(4), None), Some(6));
        assert_eq!(prune_bound(1, 10, Some(10), keep(100), None), Some(9));
        assert_eq!(prune_bound(1, 5_000, None, keep(1), None), Some(1_000));
        assert_eq!(prune_bound(7, 10, Some(3), keep(100), None), None);
        assert_eq!(prune_bound(10, 10, Some(10), keep(0), None), None);
    }

    #[test]
    fn pruning_never_passes_the_lowest_holding_cursor() {
        assert_eq!(prune_bound(1, 10, None, keep(4), Some(3)), Some(3));
        assert_eq!(prune_bound(1, 10, Some(10), keep(100), Some(0)), None);
        assert_eq!(prune_bound(5, 10, Some(10), keep(1), Some(4)), None);
        assert_eq!(prune_bound(1, 10, None, keep(4), Some(8)), Some(6));
    }
}
