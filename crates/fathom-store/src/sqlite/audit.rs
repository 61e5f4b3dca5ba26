//! The audit log on SQLite. Appends run on the single writer inside the job's transaction
//! (`BEGIN IMMEDIATE`, which also holds off a CLI process writing the same file), so reading the
//! head row, inserting the chained entries and moving the head is one atomic step: the chain
//! stays linear by construction.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::audit::{self, AuditEntry, AuditHead, AuditQuery, AuditRecord, AuditRetention, GENESIS};
use crate::error::{StoreError, from_sqlite};

const HEAD_TABLE: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_audit_head\" (
    \"id\" INTEGER PRIMARY KEY NOT NULL CHECK (\"id\" = 1),
    \"seq\" INTEGER NOT NULL,
    \"hash\" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS \"_fathom_audit_at\" ON \"_fathom_audit\" (\"at\");
CREATE INDEX IF NOT EXISTS \"_fathom_audit_action\" ON \"_fathom_audit\" (\"action\");
";

const COLUMNS: &str = "\"seq\", \"at\", \"action\", \"outcome\", \"actor\", \"target\", \
    \"request_id\", \"ip\", \"detail\", \"collection\", \"changed\", \"prev_hash\", \"hash\"";

/// Columns a table made before the chain lacks.
const NEW_COLUMNS: [&str; 4] = ["collection", "changed", "prev_hash", "hash"];

/// Brings an audit table made before the chain up to date: its new columns, the head row, and
/// the entries it already holds chained in their order (renumbered from 1 if they had gaps).
/// Idempotent; runs on the writer connection at start-up.
pub(crate) fn upgrade(conn: &Connection) -> Result<(), StoreError> {
    let present: Vec<String> = {
        let mut statement = conn
            .prepare("SELECT \"name\" FROM pragma_table_info('_fathom_audit')")
            .map_err(from_sqlite)?;
        let names = statement.query_map([], |r| r.get(0)).map_err(from_sqlite)?;
        names.collect::<Result<_, _>>().map_err(from_sqlite)?
    };
    for column in NEW_COLUMNS {
        if !present.iter().any(|p| p == column) {
            conn.execute_batch(&format!(
                "ALTER TABLE \"_fathom_audit\" ADD COLUMN \"{column}\" TEXT"
            ))
            .map_err(from_sqlite)?;
        }
    }
    conn.execute_batch(HEAD_TABLE).map_err(from_sqlite)?;
    let tx = conn.unchecked_transaction().map_err(from_sqlite)?;
    if read_head(&tx)?.is_none() {
        let legacy = chain_read(&tx, 0, u32::MAX)?;
        let entries: Vec<AuditEntry> = legacy.iter().map(|r| r.entry.clone()).collect();
        let mut head = AuditHead {
            seq: 0,
            hash: GENESIS.to_owned(),
        };
        for (old, entry) in legacy.iter().zip(&entries) {
            // Each keeps its own time; numbers only shrink, so no two rows ever collide.
            let record = audit::chain(&head, &old.at, std::slice::from_ref(entry))
                .pop()
                .ok_or_else(|| StoreError::internal("chaining produced no record"))?;
            tx.execute(
                "UPDATE \"_fathom_audit\" SET \"seq\" = ?1, \"prev_hash\" = ?2, \"hash\" = ?3 WHERE \"seq\" = ?4",
                params![record.seq, record.prev_hash, record.hash, old.seq],
            )
            .map_err(from_sqlite)?;
            head = AuditHead {
                seq: record.seq,
                hash: record.hash,
            };
        }
        tx.execute(
            "INSERT INTO \"_fathom_audit_head\" (\"id\", \"seq\", \"hash\") VALUES (1, ?1, ?2)",
            params![head.seq, head.hash],
        )
        .map_err(from_sqlite)?;
    }
    tx.commit().map_err(from_sqlite)
}

fn read_head(conn: &Connection) -> Result<Option<AuditHead>, StoreError> {
    conn.prepare_cached("SELECT \"seq\", \"hash\" FROM \"_fathom_audit_head\" WHERE \"id\" = 1")
        .and_then(|mut s| {
            s.query_row([], |r| {
                Ok(AuditHead {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            })
            .optional()
        })
        .map_err(from_sqlite)
}

/// The head: the newest entry's sequence and hash.
pub(crate) fn head(conn: &Connection) -> Result<AuditHead, StoreError> {
    Ok(read_head(conn)?.unwrap_or_else(|| AuditHead {
        seq: 0,
        hash: GENESIS.to_owned(),
    }))
}

/// Chains `entries` after the head and stores them, in the caller's transaction.
pub(crate) fn append(conn: &Connection, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let records = audit::chain(&head(conn)?, &now_timestamp(), entries);
    let mut insert = conn
        .prepare_cached(&format!(
            "INSERT INTO \"_fathom_audit\" ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))
        .map_err(from_sqlite)?;
    for r in &records {
        let e = &r.entry;
        insert
            .execute(params![
                r.seq,
                r.at,
                e.action,
                e.outcome,
                e.actor,
                e.target,
                e.request_id,
                e.ip,
                e.detail,
                e.collection,
                audit::changed_column(e),
                r.prev_hash,
                r.hash
            ])
            .map_err(from_sqlite)?;
    }
    if let Some(last) = records.last() {
        conn.prepare_cached(
            "INSERT INTO \"_fathom_audit_head\" (\"id\", \"seq\", \"hash\") VALUES (1, ?1, ?2)
             ON CONFLICT (\"id\") DO UPDATE SET \"seq\" = excluded.\"seq\", \"hash\" = excluded.\"hash\"",
        )
        .and_then(|mut s| s.execute(params![last.seq, last.hash]))
        .map_err(from_sqlite)?;
    }
    Ok(())
}

fn read_record(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: r.get(0)?,
        at: r.get(1)?,
        entry: AuditEntry {
            action: r.get(2)?,
            outcome: r.get(3)?,
            actor: r.get(4)?,
            target: r.get(5)?,
            request_id: r.get(6)?,
            ip: r.get(7)?,
            detail: r.get(8)?,
            collection: r.get(9)?,
            changed: audit::changed_from_column(r.get(10)?),
        },
        prev_hash: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
        hash: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
    })
}

/// Up to `limit` entries after `after`, oldest first: the chain as `verify` walks it.
pub(crate) fn chain_read(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM \"_fathom_audit\" WHERE \"seq\" > ?1 ORDER BY \"seq\" LIMIT ?2"
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map(params![after, limit], read_record)
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

/// The entries matching `query`, newest first. Every filter is a bound parameter; an absent one
/// is NULL and matches everything.
pub(crate) fn log(conn: &Connection, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM \"_fathom_audit\"
             WHERE (?1 IS NULL OR \"actor\" = ?1) AND (?2 IS NULL OR \"action\" = ?2)
               AND (?3 IS NULL OR \"collection\" = ?3) AND (?4 IS NULL OR \"at\" >= ?4)
               AND (?5 IS NULL OR \"at\" < ?5) AND (?6 IS NULL OR \"seq\" < ?6)
             ORDER BY \"seq\" DESC LIMIT ?7"
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map(
            params![
                query.actor,
                query.action,
                query.collection,
                query.since,
                query.until,
                query.before,
                query.limit
            ],
            read_record,
        )
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

/// The last sequence one pruning step removes, if any is due: the newest entry past the age
/// limit, or the one before the newest `max_count` entries that are not checkpoints (so that a
/// checkpoint never makes room for itself by pruning again), never the head, and at most
/// `audit::PRUNE_BATCH` entries at a time.
pub(crate) fn prune_bound(
    conn: &Connection,
    retention: &AuditRetention,
) -> Result<Option<i64>, StoreError> {
    let head = head(conn)?;
    let by_age: Option<i64> = match retention.cutoff() {
        Some(cutoff) => conn
            .query_row(
                "SELECT MAX(\"seq\") FROM \"_fathom_audit\" WHERE \"at\" < ?1",
                [cutoff],
                |r| r.get(0),
            )
            .map_err(from_sqlite)?,
        None => None,
    };
    let (oldest, checkpoints): (Option<i64>, i64) = conn
        .query_row(
            "SELECT MIN(\"seq\"), (SELECT COUNT(*) FROM \"_fathom_audit\" WHERE \"action\" = ?1) FROM \"_fathom_audit\"",
            [audit::CHECKPOINT_ACTION],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(from_sqlite)?;
    // The count's scan runs only when there are more entries than the limit besides
    // checkpoints (counted through the `action` index), so an idle check stays cheap.
    let by_count: Option<i64> = match (retention.max_count, oldest) {
        (Some(count), Some(oldest))
            if audit::over_count(head.seq - oldest + 1 - checkpoints, count) =>
        {
            conn.query_row(
                "SELECT \"seq\" FROM \"_fathom_audit\" WHERE \"action\" <> ?1 ORDER BY \"seq\" DESC LIMIT 1 OFFSET ?2",
                params![audit::CHECKPOINT_ACTION, i64::try_from(count).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .optional()
            .map_err(from_sqlite)?
        }
        _ => None,
    };
    Ok(audit::bound(by_age.max(by_count), oldest, head.seq))
}

/// Removes the entries up to `through` and appends the checkpoint naming the last one's hash.
pub(crate) fn prune_through(conn: &Connection, through: i64) -> Result<usize, StoreError> {
    let hash: Option<String> = conn
        .query_row(
            "SELECT \"hash\" FROM \"_fathom_audit\" WHERE \"seq\" = ?1",
            [through],
            |r| r.get(0),
        )
        .optional()
        .map_err(from_sqlite)?
        .flatten();
    let Some(hash) = hash else {
        return Ok(0);
    };
    let removed = conn
        .execute(
            "DELETE FROM \"_fathom_audit\" WHERE \"seq\" <= ?1",
            [through],
        )
        .map_err(from_sqlite)?;
    append(conn, &[audit::checkpoint(through, &hash, removed)])?;
    Ok(removed)
}

/// One pruning step on the writer: the bound recomputed in the write transaction, then the
/// removal and its checkpoint. Returns how many entries it removed.
pub(crate) fn prune(conn: &Connection, retention: &AuditRetention) -> Result<usize, StoreError> {
    match prune_bound(conn, retention)? {
        Some(through) => prune_through(conn, through),
        None => Ok(0),
    }
}
