//! The baseline's storage: one STRICT table with the bench schema's columns and indexes, one
//! writer connection behind a mutex (every insert is its own transaction and commit) and a small
//! pool of read-only connections, each query run on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::data::NewItem;

/// The table and the same indexes Fathom builds from `schema.toml`.
const DDL: &str = r#"
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    team TEXT NOT NULL,
    priority INTEGER NOT NULL,
    owner TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS items_status_created_at ON items (status, created_at);
CREATE INDEX IF NOT EXISTS items_owner_status_created_at ON items (owner, status, created_at);
"#;

const COLUMNS: &str = "id, created_at, updated_at, version, title, status, team, priority, owner";

/// A stored item, as the baseline answers it (no envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: String,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
    #[serde(flatten)]
    pub fields: NewItem,
}

/// A page request: `status = ? AND priority >= ?`, optionally `AND owner = ?`, newest first.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub status: String,
    pub min_priority: i64,
    pub owner: Option<String>,
    pub limit: i64,
}

/// Opens a connection: WAL, the given `synchronous` level on the writer, read-only readers.
pub fn open_connection(path: &Path, synchronous: &str, writer: bool) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let pragmas = if writer {
        format!("PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};")
    } else {
        "PRAGMA query_only = ON;".to_owned()
    };
    conn.execute_batch(&pragmas)?;
    Ok(conn)
}

/// The `synchronous` pragma for a Fathom durability setting (`full` or `normal`).
pub fn synchronous_for(durability: &str) -> anyhow::Result<&'static str> {
    match durability {
        "full" => Ok("FULL"),
        "normal" => Ok("NORMAL"),
        other => Err(anyhow!("unknown durability `{other}`: use full or normal")),
    }
}

/// Creates the table and indexes if missing.
pub fn create_schema(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(DDL)
        .context("creating the baseline table")
}

/// Now, in Fathom's canonical timestamp form (UTC, milliseconds, fixed width).
pub fn now_timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        id: row.get(0)?,
        created_at: row.get(1)?,
        updated_at: row.get(2)?,
        version: row.get(3)?,
        fields: NewItem {
            title: row.get(4)?,
            status: row.get(5)?,
            team: row.get(6)?,
            priority: row.get(7)?,
            owner: row.get(8)?,
        },
    })
}

fn insert(conn: &Connection, item: &NewItem) -> rusqlite::Result<Item> {
    let (id, now) = (uuid::Uuid::now_v7().to_string(), now_timestamp());
    conn.prepare_cached(
        "INSERT INTO items (id, created_at, updated_at, version, title, status, team, priority, owner) \
         VALUES (?1, ?2, ?2, 1, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        now,
        item.title,
        item.status,
        item.team,
        item.priority,
        item.owner
    ])?;
    Ok(Item {
        id,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
        fields: item.clone(),
    })
}

/// The baseline's connections.
#[derive(Clone)]
pub struct Db {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl Db {
    /// Opens (and creates if needed) the database at `path` with `readers` read connections.
    pub fn open(path: &Path, readers: usize, durability: &str) -> anyhow::Result<Self> {
        let synchronous = synchronous_for(durability)?;
        let writer = open_connection(path, synchronous, true)?;
        create_schema(&writer)?;
        let readers = (0..readers.max(1))
            .map(|_| open_connection(path, synchronous, false))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            writer: Arc::new(Mutex::new(writer)),
            permits: Arc::new(Semaphore::new(readers.len())),
            readers: Arc::new(Mutex::new(readers)),
        })
    }

    /// Inserts one item in its own transaction (autocommit: one commit, one fsync at FULL).
    pub async fn insert(&self, item: NewItem) -> anyhow::Result<Item> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let conn = writer
                .lock()
                .map_err(|_| anyhow!("the writer connection is poisoned"))?;
            insert(&conn, &item).context("inserting an item")
        })
        .await
        .context("the insert task failed")?
    }

    pub async fn get(&self, id: String) -> anyhow::Result<Option<Item>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM items WHERE id = ?1"))?
                .query_row([id], item_from_row)
                .optional()
        })
        .await
    }

    pub async fn page(&self, query: PageQuery) -> anyhow::Result<Vec<Item>> {
        self.read(move |conn| {
            let order = "ORDER BY created_at DESC, id DESC LIMIT";
            match &query.owner {
                Some(owner) => conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM items WHERE owner = ?1 AND status = ?2 \
                         AND priority >= ?3 {order} ?4"
                    ))?
                    .query_map(
                        params![owner, query.status, query.min_priority, query.limit],
                        item_from_row,
                    )?
                    .collect(),
                None => conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM items WHERE status = ?1 AND priority >= ?2 \
                         {order} ?3"
                    ))?
                    .query_map(
                        params![query.status, query.min_priority, query.limit],
                        item_from_row,
                    )?
                    .collect(),
            }
        })
        .await
    }

    /// Runs `work` on a free reader connection on the blocking pool.
    async fn read<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("the reader pool is closed")?;
        let conn = self
            .readers
            .lock()
            .map_err(|_| anyhow!("the reader pool is poisoned"))?
            .pop()
            .context("a permit always has a free reader")?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let result = work(&conn);
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            drop(permit);
            result.context("reading items")
        })
        .await
        .context("the read task failed")?
    }
}

/// Seeds `items` straight into the table at `path` in transactions of `chunk` rows, calling
/// `progress(rows)` after each; returns the new ids in insertion order.
pub fn seed(
    path: &Path,
    durability: &str,
    items: impl Iterator<Item = NewItem>,
    chunk: usize,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Vec<String>> {
    let mut conn = open_connection(path, synchronous_for(durability)?, true)?;
    create_schema(&conn)?;
    let mut ids = Vec::new();
    let mut items = items.peekable();
    while items.peek().is_some() {
        let tx = conn.transaction()?;
        let mut rows = 0;
        for item in items.by_ref().take(chunk.max(1)) {
            ids.push(insert(&tx, &item)?.id);
            rows += 1;
        }
        tx.commit()?;
        progress(rows);
    }
    Ok(ids)
}
