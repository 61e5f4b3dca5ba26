//! `fathom purge --older-than AGE [--collection NAME]`: removes for good the records of
//! soft-delete collections deleted more than AGE ago (every tenant), each in its own
//! transaction with its `delete` event and what its relations' `on_delete` asks of the records
//! pointing at it; a record still referenced through a `restrict` relation is kept and counted.
//! One audit entry (`records_purged`) per collection that lost records. The same purge runs on
//! a schedule inside `serve` when `purge.older_than_days` is set.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use fathom_schema::Collection;
use fathom_store::{AuditEntry, Scope, Store, StoreErrorKind, UnitOfWork, WriteOp};

use crate::app::open_store;
use crate::cli::CommonArgs;

/// Records read per round.
const BATCH: u64 = 500;

/// Parses an age such as `30d`, `12h`, `45m` or `90s`.
pub fn parse_age(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        anyhow!(
            "`{text}` is not an age; hint: write a whole number and a unit: 30d, 12h, 45m or 90s"
        )
    })?;
    let seconds = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => bail!("`{text}` has no unit; hint: end it with d, h, m or s (30d keeps a month)"),
    };
    seconds
        .map(Duration::from_secs)
        .ok_or_else(|| anyhow!("`{text}` is too long an age"))
}

/// What a purge of one collection did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub removed: u64,
    /// Records still referenced through a `restrict` relation, or changed meanwhile.
    pub kept: u64,
}

/// Removes the records of `collection` deleted more than `age` ago.
pub async fn purge_collection(
    store: &Store,
    collection: &Arc<Collection>,
    age: Duration,
) -> anyhow::Result<Purged> {
    let before = fathom_schema::value::timestamp_before(age);
    let mut purged = Purged::default();
    let mut skipped = std::collections::HashSet::new();
    loop {
        let ids = store
            .purgeable(collection.clone(), &before, BATCH + skipped.len() as u64)
            .await
            .map_err(|e| {
                anyhow!(
                    "reading deleted records of {}: {}",
                    collection.name,
                    e.detail
                )
            })?;
        let fresh: Vec<_> = ids.into_iter().filter(|id| !skipped.contains(id)).collect();
        if fresh.is_empty() {
            return Ok(purged);
        }
        for id in fresh {
            let op = WriteOp::Purge {
                collection: collection.clone(),
                id,
            };
            match store
                .execute(UnitOfWork::single(Scope::AllTenants, op))
                .await
            {
                Ok(_) => purged.removed += 1,
                Err(e)
                    if matches!(
                        e.kind,
                        StoreErrorKind::ForeignKeyViolation | StoreErrorKind::NotFound
                    ) =>
                {
                    skipped.insert(id);
                    purged.kept += 1;
                }
                Err(e) => bail!("purging {} {id}: {}", collection.name, e.detail),
            }
        }
    }
}

/// Purges every soft-delete collection of the applied schema (or the one named).
pub async fn purge_all(
    store: &Store,
    only: Option<&str>,
    age: Duration,
) -> anyhow::Result<Vec<(String, Purged)>> {
    let applied = store
        .applied()
        .await
        .map_err(|e| anyhow!("reading the applied schema: {}", e.detail))?
        .ok_or_else(|| anyhow!("the database has no schema yet; hint: run `fathom migrate apply` or `fathom serve` first"))?;
    let collections: Vec<Arc<Collection>> = match only {
        Some(name) => {
            let collection = applied
                .schema
                .collection(name)
                .ok_or_else(|| anyhow!("the database has no collection named `{name}`"))?;
            if !collection.soft_delete {
                bail!(
                    "`{name}` deletes records for good (soft_delete is off): there is nothing to purge"
                );
            }
            vec![collection.clone()]
        }
        None => applied
            .schema
            .collections
            .values()
            .filter(|c| c.soft_delete)
            .cloned()
            .collect(),
    };
    let mut report = Vec::new();
    for collection in &collections {
        let purged = purge_collection(store, collection, age).await?;
        if purged.removed > 0 {
            let entry = AuditEntry {
                action: "records_purged".into(),
                outcome: "success".into(),
                target: Some(collection.name.clone()),
                detail: Some(format!(
                    "{} soft-deleted record(s) older than {}s removed; {} kept",
                    purged.removed,
                    age.as_secs(),
                    purged.kept
                )),
                ..AuditEntry::default()
            };
            store
                .audit(entry)
                .await
                .map_err(|e| anyhow!("writing the audit log: {}", e.detail))?;
        }
        report.push((collection.name.clone(), purged));
    }
    Ok(report)
}

pub async fn run(
    common: &CommonArgs,
    older_than: &str,
    collection: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let age = parse_age(older_than)?;
    let config = common.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    let report = purge_all(&store, collection, age).await?;
    if report.is_empty() {
        println!("No collection keeps deleted records (soft_delete); nothing to purge.");
    }
    for (name, purged) in report {
        println!(
            "{name}: {} removed, {} kept (still referenced through a restrict relation)",
            purged.removed, purged.kept
        );
    }
    Ok(ExitCode::SUCCESS)
}
