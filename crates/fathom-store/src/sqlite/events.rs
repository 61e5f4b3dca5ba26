//! The outbox on SQLite. Events are appended by the writer thread inside the job's savepoint:
//! the job takes its numbers from the counter row (`last + 1 ..= last + n`), so a job rolled back
//! to its savepoint gives its numbers back and the sequence stays gap-free; and since one thread
//! writes, numbers are taken in commit order. After every group COMMIT the pool calls
//! [`latest`] and advances the store's watch.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{StoreError, from_sqlite};
use crate::events::{Draft, EventPage, Origin, PRUNE_BATCH, Retention, StoredEvent, StoredJson};

pub(crate) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_events\" (
    \"seq\" INTEGER PRIMARY KEY NOT NULL,
    \"id\" TEXT NOT NULL,
    \"collection\" TEXT NOT NULL,
    \"record_id\" TEXT NOT NULL,
    \"operation\" TEXT NOT NULL,
    \"version\" INTEGER NOT NULL,
    \"tenant\" TEXT,
    \"changed\" TEXT NOT NULL,
    \"record\" TEXT,
    \"actor_type\" TEXT NOT NULL,
    \"actor_id\" TEXT,
    \"request_id\" TEXT,
    \"committed_at\" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS \"_fathom_events_tenant\" ON \"_fathom_events\" (\"tenant\", \"seq\");
CREATE TABLE IF NOT EXISTS \"_fathom_event_counter\" (
    \"id\" INTEGER PRIMARY KEY NOT NULL CHECK (\"id\" = 1),
    \"last\" INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO \"_fathom_event_counter\" (\"id\", \"last\") VALUES (1, 0);
";

const TAKE_NUMBERS: &str = "UPDATE \"_fathom_event_counter\" SET \"last\" = \"last\" + ?1 WHERE \"id\" = 1 RETURNING \"last\"";

const INSERT: &str = "INSERT INTO \"_fathom_events\" (\"seq\", \"id\", \"collection\", \
    \"record_id\", \"operation\", \"version\", \"tenant\", \"changed\", \"record\", \
    \"actor_type\", \"actor_id\", \"request_id\", \"committed_at\") \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

const COLUMNS: &str = "\"seq\", \"id\", \"collection\", \"record_id\", \"operation\", \
    \"version\", \"tenant\", \"changed\", \"record\", \"actor_type\", \"actor_id\", \
    \"request_id\", \"committed_at\"";

/// Appends the events of one job in the current transaction; returns the last sequence taken.
pub(crate) fn append(
    conn: &Connection,
    drafts: &[Draft],
    origin: &Origin,
) -> Result<Option<i64>, StoreError> {
    if drafts.is_empty() {
        return Ok(None);
    }
    let count = i64::try_from(drafts.len()).unwrap_or(i64::MAX);
    let last: i64 = conn
        .prepare_cached(TAKE_NUMBERS)
        .and_then(|mut s| s.query_row([count], |r| r.get(0)))
        .map_err(from_sqlite)?;
    let (actor_type, actor_id) = origin.actor.columns();
    let committed_at = fathom_schema::value::now_timestamp();
    let mut insert = conn.prepare_cached(INSERT).map_err(from_sqlite)?;
    for (n, draft) in (0..).zip(drafts) {
        let json = StoredJson::of(draft);
        insert
            .execute(rusqlite::params![
                last - count + 1 + n,
                draft.id.hyphenated().to_string(),
                draft.collection,
                draft.record_id.hyphenated().to_string(),
                draft.operation.as_str(),
                draft.version,
                draft.tenant,
                json.changed,
                json.record,
                actor_type,
                actor_id,
                origin.request_id,
                committed_at,
            ])
            .map_err(from_sqlite)?;
    }
    Ok(Some(last))
}

/// The highest sequence ever taken (the counter survives pruning).
pub(crate) fn latest(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT \"last\" FROM \"_fathom_event_counter\" WHERE \"id\" = 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map(Option::unwrap_or_default)
        .map_err(from_sqlite)
}

fn oldest(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT COALESCE(MIN(\"seq\"), 0) FROM \"_fathom_events\"")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(from_sqlite)
}

fn read_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        sequence: row.get(0)?,
        id: row.get(1)?,
        collection: row.get(2)?,
        record_id: row.get(3)?,
        operation: row.get(4)?,
        version: row.get(5)?,
        tenant: row.get(6)?,
        changed: row.get(7)?,
        record: row.get(8)?,
        actor_type: row.get(9)?,
        actor_id: row.get(10)?,
        request_id: row.get(11)?,
        committed_at: row.get(12)?,
    })
}

/// Events after `after`, in one read transaction so the page and its bounds agree.
pub(crate) fn after(
    conn: &Connection,
    after: i64,
    limit: usize,
    tenant: Option<&str>,
) -> Result<EventPage, StoreError> {
    let tx = conn.unchecked_transaction().map_err(from_sqlite)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let stored: Vec<StoredEvent> = match tenant {
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM \"_fathom_events\" WHERE \"seq\" > ?1 ORDER BY \"seq\" LIMIT ?2"
            );
            let mut statement = tx.prepare_cached(&sql).map_err(from_sqlite)?;
            let rows = statement
                .query_map(rusqlite::params![after, limit], read_event)
                .map_err(from_sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(from_sqlite)?
        }
        Some(tenant) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM \"_fathom_events\" WHERE \"tenant\" = ?1 AND \"seq\" > ?2 ORDER BY \"seq\" LIMIT ?3"
            );
            let mut statement = tx.prepare_cached(&sql).map_err(from_sqlite)?;
            let rows = statement
                .query_map(rusqlite::params![tenant, after, limit], read_event)
                .map_err(from_sqlite)?;
            rows.collect::<rusqlite::Result<_>>().map_err(from_sqlite)?
        }
    };
    let page = EventPage {
        events: stored
            .into_iter()
            .map(StoredEvent::decode)
            .collect::<Result<_, _>>()?,
        oldest: oldest(&tx)?,
        latest: latest(&tx)?,
    };
    tx.commit().map_err(from_sqlite)?;
    Ok(page)
}

/// The last sequence of the next pruning batch (a prefix of at most one batch of the events past
/// `retention`, never the latest, never past the cursors named in `held_by`), or `None` when
/// nothing is due. Read on a reader, so an idle pruner never occupies the writer. A cursor only
/// moves forward (a rewind is an administrator's replay), so the bound stays safe until the
/// writer removes it.
pub(crate) fn prune_bound(
    conn: &Connection,
    retention: Retention,
    held_by: &[String],
) -> Result<Option<i64>, StoreError> {
    let first = oldest(conn)?;
    if first == 0 {
        return Ok(None);
    }
    let last = latest(conn)?;
    let cutoff = crate::events::age_cutoff(retention.max_age);
    let by_age: Option<i64> = conn
        .prepare_cached(
            "SELECT MAX(\"seq\") FROM (SELECT \"seq\", \"committed_at\" FROM \"_fathom_events\" \
             ORDER BY \"seq\" LIMIT ?1) WHERE \"committed_at\" < ?2",
        )
        .and_then(|mut s| s.query_row(rusqlite::params![PRUNE_BATCH, cutoff], |r| r.get(0)))
        .map_err(from_sqlite)?;
    let held = crate::sqlite::cursors::list(conn)?
        .into_iter()
        .filter(|c| held_by.contains(&c.name))
        .map(|c| c.position)
        .min();
    Ok(crate::events::prune_bound(
        first, last, by_age, retention, held,
    ))
}

/// Removes the events up to `upto` (on the writer); returns how many.
pub(crate) fn remove_through(conn: &Connection, upto: i64) -> Result<usize, StoreError> {
    conn.prepare_cached("DELETE FROM \"_fathom_events\" WHERE \"seq\" <= ?1")
        .and_then(|mut s| s.execute([upto]))
        .map_err(from_sqlite)
}
