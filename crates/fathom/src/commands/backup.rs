//! `fathom backup FILE` and `fathom restore FILE [--force]`, and the scheduled backups `serve`
//! runs under `[backup]`.
//!
//! On SQLite a backup is an online copy (`VACUUM INTO`, one read transaction: the server keeps
//! serving writes, and the copy holds exactly what was committed when it began), checked with
//! `integrity_check`; it prints its size, duration, migration version and outbox sequence. A
//! restore checks the file first and refuses while a server holds the database (the lock file
//! `serve` keeps, `<database>.serving`) unless `--force`. On PostgreSQL both commands explain
//! the supported route (pg_dump / pg_restore, or base backups with WAL archiving) instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::cli::CommonArgs;
use crate::config::Config;

/// Printed instead of a backup on PostgreSQL.
pub const POSTGRES_ROUTE: &str = "This server's database is PostgreSQL, whose own tools back it up consistently while it serves:\n  logical:  pg_dump --format=custom --file=fathom.dump \"$DATABASE_URL\"   (restore with pg_restore --clean --dbname=...)\n  physical: pg_basebackup with WAL archiving, for point-in-time recovery\nFathom keeps all its state (records, outbox, accounts, keys) in that database, so either route backs up everything. See docs/RELIABILITY.md.";

/// The lock file a serving SQLite server holds.
pub fn serving_lock_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(".serving");
    PathBuf::from(path)
}

/// Takes the serving lock of `database` (a SQLite file) for as long as the returned file lives.
/// `None` (with a warning) when another process holds it; serving goes on, but `fathom restore`
/// will see a live server.
pub fn hold_serving_lock(database: &Path) -> Option<std::fs::File> {
    let path = serving_lock_path(database);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(
            |e| tracing::warn!(error = %e, path = %path.display(), "cannot open the serving lock"),
        )
        .ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(e) => {
            tracing::warn!(error = %e, path = %path.display(), "another server holds this database's serving lock");
            None
        }
    }
}

/// Whether a server holds `database`'s serving lock now.
fn is_served(database: &Path) -> bool {
    let path = serving_lock_path(database);
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

fn sqlite_database(config: &Config) -> Option<PathBuf> {
    config
        .postgres_options()
        .is_none()
        .then(|| config.sqlite_path("fathom.db"))
}

/// Makes a checked online backup of `database` at `target`; returns the report line.
pub fn backup_file(database: &Path, target: &Path) -> anyhow::Result<String> {
    let report = fathom_store::sqlite_backup::backup(database, target).map_err(|e| {
        anyhow!(
            "backing up {} to {} failed: {}; hint: the target must be a new file in a writable directory",
            database.display(),
            target.display(),
            e.detail
        )
    })?;
    Ok(format!(
        "Backed up {} to {}: {} bytes in {} ms, integrity ok, migration {}, outbox sequence {}.",
        database.display(),
        target.display(),
        report.info.bytes,
        report.duration.as_millis(),
        report.info.migration,
        report.info.sequence
    ))
}

pub async fn backup(common: &CommonArgs, target: &Path) -> anyhow::Result<ExitCode> {
    let config = common.load_config(None)?;
    let Some(database) = sqlite_database(&config) else {
        println!("{POSTGRES_ROUTE}");
        return Ok(ExitCode::from(2));
    };
    let target = target.to_path_buf();
    let line = tokio::task::spawn_blocking(move || backup_file(&database, &target)).await??;
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(common: &CommonArgs, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let config = common.load_config(None)?;
    let Some(database) = sqlite_database(&config) else {
        println!("{POSTGRES_ROUTE}");
        return Ok(ExitCode::from(2));
    };
    let info = fathom_store::sqlite_backup::check(file).map_err(|e| {
        anyhow!(
            "{} cannot be restored: {}; nothing was changed",
            file.display(),
            e.detail
        )
    })?;
    if is_served(&database) && !force {
        bail!(
            "a server is serving {} now; restoring under it would corrupt what it writes; hint: stop the server first (or pass --force if you are sure no server uses the file)",
            database.display()
        );
    }
    fathom_store::sqlite_backup::restore(file, &database)
        .map_err(|e| anyhow!("restoring {} failed: {}", database.display(), e.detail))?;
    println!(
        "Restored {} from {} ({} bytes, integrity ok, migration {}, outbox sequence {}).",
        database.display(),
        file.display(),
        info.bytes,
        info.migration,
        info.sequence
    );
    Ok(ExitCode::SUCCESS)
}

/// Backs up `database` into `dir` every `every`, keeping the newest `keep` files
/// (`fathom-<UTC time>.db`).
pub async fn scheduled(database: PathBuf, dir: PathBuf, every: Duration, keep: usize) {
    loop {
        tokio::time::sleep(every).await;
        let (database, dir) = (database.clone(), dir.clone());
        let made = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            std::fs::create_dir_all(&dir)?;
            let stamp = fathom_schema::value::now_timestamp().replace([':', '-', '.'], "");
            let line = backup_file(&database, &dir.join(format!("fathom-{stamp}.db")))?;
            prune_backups(&dir, keep)?;
            Ok(line)
        })
        .await;
        match made {
            Ok(Ok(line)) => tracing::info!(report = %line, "scheduled backup made"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the scheduled backup failed"),
            Err(e) => tracing::warn!(error = %e, "the scheduled backup failed"),
        }
    }
}

/// Removes all but the newest `keep` scheduled backups of `dir`.
fn prune_backups(dir: &Path, keep: usize) -> std::io::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("fathom-") && n.ends_with(".db"))
        })
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(keep);
    for old in files.into_iter().take(excess) {
        std::fs::remove_file(old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduled_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "db"))
            .collect();
        files.sort();
        files
    }

    /// The schedule makes a checked backup every period and keeps only the newest `keep`,
    /// leaving other files of the directory alone.
    #[tokio::test]
    async fn scheduled_backups_keep_the_newest_few_and_nothing_else_goes() {
        let data = tempfile::tempdir().unwrap();
        let database = data.path().join("fathom.db");
        let store = fathom_store::Store::open_sqlite(fathom_store::SqliteOptions::new(&database))
            .await
            .expect("a fathom database");
        let dir = data.path().join("backups");
        std::fs::create_dir_all(&dir).unwrap();
        let unrelated = dir.join("notes.db");
        std::fs::write(&unrelated, b"someone else's file").unwrap();

        let schedule = tokio::spawn(scheduled(
            database.clone(),
            dir.clone(),
            Duration::from_millis(100),
            2,
        ));
        // Wait until at least four backups have been made (two pruned).
        let mut made = std::collections::BTreeSet::new();
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            made.extend(
                scheduled_files(&dir)
                    .into_iter()
                    .filter(|p| *p != unrelated),
            );
            if made.len() >= 4 {
                break;
            }
        }
        schedule.abort();
        let _ = schedule.await;
        // A backup already under way when the schedule stopped still finishes and prunes.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(made.len() >= 4, "backups made: {made:?}");

        let kept: Vec<PathBuf> = scheduled_files(&dir)
            .into_iter()
            .filter(|p| *p != unrelated)
            .collect();
        assert_eq!(kept.len(), 2, "only the newest two stay: {kept:?}");
        let newest: Vec<&PathBuf> = made.iter().rev().take(2).collect();
        assert!(
            kept.iter().all(|k| newest.contains(&k)),
            "{kept:?} are the newest of {made:?}"
        );
        for file in &kept {
            fathom_store::sqlite_backup::check(file).expect("a checked, restorable backup");
        }
        assert!(unrelated.exists(), "files the schedule did not make stay");
        drop(store);
    }
}
