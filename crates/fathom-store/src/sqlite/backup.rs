//! Online backup and restore of the SQLite database file.
//!
//! A backup is `VACUUM INTO` on a connection of its own: one read transaction over a consistent
//! snapshot of the WAL database, so writers carry on (SQLite's WAL lets a reader and the writer
//! run together) and the copy holds exactly the transactions committed before it began. The copy
//! is then opened and checked (`PRAGMA integrity_check`), and labelled with its migration
//! version and latest outbox sequence. A restore checks the file the same way, then replaces the
//! database file (copy beside it, fsync, rename, and the stale `-wal` and `-shm` files removed);
//! it must not run under a live server, which the caller checks.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{StoreError, StoreErrorKind, from_sqlite};

/// What a checked database file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Size in bytes.
    pub bytes: u64,
    /// The latest applied migration (0 when none).
    pub migration: i64,
    /// The latest outbox sequence (0 when none).
    pub sequence: i64,
}

/// A backup made: what it holds and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub info: BackupInfo,
    pub duration: Duration,
}

fn unavailable(detail: String) -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, detail)
}

/// Copies the database at `source` into the new file `target` while it serves, then checks it.
pub fn backup(source: &Path, target: &Path) -> Result<BackupReport, StoreError> {
    if target.exists() {
        return Err(StoreError::new(
            StoreErrorKind::UniqueViolation { fields: vec![] },
            format!("{} exists already", target.display()),
        ));
    }
    if !source.exists() {
        return Err(unavailable(format!("no database at {}", source.display())));
    }
    let started = Instant::now();
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unavailable(format!("opening {}: {e}", source.display())))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(from_sqlite)?;
    let target_text = target.to_string_lossy().into_owned();
    // The file name is bound as a parameter, never written into the statement.
    conn.execute("VACUUM INTO ?1", [&target_text])
        .map_err(from_sqlite)?;
    drop(conn);
    let info = check(target)?;
    Ok(BackupReport {
        info,
        duration: started.elapsed(),
    })
}

/// Checks a database file: it opens, passes `integrity_check`, and is a Fathom database.
pub fn check(file: &Path) -> Result<BackupInfo, StoreError> {
    let bytes = std::fs::metadata(file)
        .map_err(|e| unavailable(format!("reading {}: {e}", file.display())))?
        .len();
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unavailable(format!("opening {}: {e}", file.display())))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| {
            StoreError::internal(format!("{} is not a SQLite database: {e}", file.display()))
        })?;
    if verdict != "ok" {
        return Err(StoreError::internal(format!(
            "{} fails its integrity check: {verdict}",
            file.display()
        )));
    }
    let migration: Option<i64> = conn
        .query_row(
            "SELECT MAX(\"version\") FROM \"_fathom_migrations\"",
            [],
            |r| r.get(0),
        )
        .map_err(|e| {
            StoreError::internal(format!(
                "{} is not a Fathom database (no migrations table): {e}",
                file.display()
            ))
        })?;
    let sequence: Option<i64> = conn
        .query_row("SELECT \"last\" FROM \"_fathom_event_counter\"", [], |r| {
            r.get(0)
        })
        .optional()
        .unwrap_or(None);
    Ok(BackupInfo {
        bytes,
        migration: migration.unwrap_or(0),
        sequence: sequence.unwrap_or(0),
    })
}

/// Replaces the database at `target` with the checked copy `file`. The caller makes sure no
/// server has `target` open.
pub fn restore(file: &Path, target: &Path) -> Result<BackupInfo, StoreError> {
    let info = check(file)?;
    let io = |what: &str, e: std::io::Error| unavailable(format!("{what}: {e}"));
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("creating the data directory", e))?;
    let staging = target.with_extension("restoring");
    std::fs::copy(file, &staging).map_err(|e| io("copying the backup", e))?;
    std::fs::File::open(&staging)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("syncing the copy", e))?;
    for suffix in ["-wal", "-shm"] {
        let mut stale = target.as_os_str().to_owned();
        stale.push(suffix);
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("removing the old database's journal", e)),
        }
    }
    std::fs::rename(&staging, target).map_err(|e| io("replacing the database", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("syncing the data directory", e))?;
    Ok(info)
}
