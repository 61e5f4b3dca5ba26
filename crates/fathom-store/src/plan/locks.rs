//! The lock and rewrite behaviour of each migration step on its database, judged from the exact
//! SQL the step runs and the row count of its table, with the safe alternative for the risky
//! ones (docs/ARCHITECT.md, "Migration review").
//!
//! The SQL is Fathom's own (`sqlite/ddl.rs`, `postgres/ddl.rs`), so its statement forms are
//! known: each is classified by its leading words into the lock it takes and the work it does
//! on the existing rows while holding it. The estimate is the row count over a throughput
//! measured for that work; it is an order of magnitude, not a promise.

use std::fmt::Write as _;

use fathom_schema::Change;

use super::{LiveData, MigrationPlan, records};

/// Which database a plan runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// The lock a step takes on its table, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lock {
    /// No existing table is locked: a validation-only change, or a new collection.
    None,
    /// PostgreSQL ROW EXCLUSIVE (`DELETE`): only the rows it deletes wait.
    RowExclusive,
    /// PostgreSQL SHARE UPDATE EXCLUSIVE (`CREATE INDEX CONCURRENTLY`, `ALTER INDEX`): reads
    /// and writes go on.
    ShareUpdateExclusive,
    /// PostgreSQL SHARE (a plain `CREATE INDEX`): writes wait, reads go on.
    Share,
    /// PostgreSQL SHARE ROW EXCLUSIVE (`ADD FOREIGN KEY`, on both tables): writes wait.
    ShareRowExclusive,
    /// SQLite's database write lock, which the whole migration holds (one IMMEDIATE
    /// transaction): every writer of the database waits, readers go on.
    DatabaseWrite,
    /// PostgreSQL ACCESS EXCLUSIVE (most `ALTER TABLE`, `DROP`): reads and writes wait.
    AccessExclusive,
}

impl Lock {
    /// The lock's name and who waits for it.
    pub fn describe(self) -> &'static str {
        match self {
            Lock::None => "no lock on existing data",
            Lock::RowExclusive => "ROW EXCLUSIVE (only the deleted rows wait)",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE (reads and writes go on)",
            Lock::Share => "SHARE (writes wait, reads go on)",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE (writes wait, reads go on)",
            Lock::DatabaseWrite => {
                "the database write lock, held for the whole migration (every write waits, reads go on)"
            }
            Lock::AccessExclusive => "ACCESS EXCLUSIVE (reads and writes wait)",
        }
    }

    /// The stable name in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Lock::None => "none",
            Lock::RowExclusive => "row_exclusive",
            Lock::ShareUpdateExclusive => "share_update_exclusive",
            Lock::Share => "share",
            Lock::ShareRowExclusive => "share_row_exclusive",
            Lock::DatabaseWrite => "database_write",
            Lock::AccessExclusive => "access_exclusive",
        }
    }
}

/// What a step does to its table's existing rows while it holds the lock, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Work {
    /// Changes the catalog only: as fast whatever the table holds.
    Catalog,
    /// Reads every row (to build an index, to check a constraint, to delete some).
    Scan,
    /// Copies every row into a new table (SQLite's rebuild, PostgreSQL's `ALTER COLUMN TYPE` or
    /// volatile default).
    Rewrite,
}

impl Work {
    /// The stable name in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Work::Catalog => "catalog",
            Work::Scan => "scan",
            Work::Rewrite => "rewrite",
        }
    }
}

/// The lock and rewrite behaviour of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locking {
    /// The table the step changes (its name after the plan's renames).
    pub table: String,
    /// The records it holds now.
    pub rows: u64,
    /// The strongest lock among the step's statements.
    pub lock: Lock,
    /// The heaviest work among them.
    pub work: Work,
    /// How long the work is estimated to hold the lock, in milliseconds.
    pub estimate_ms: u64,
    /// The safe way to make the change, for a risky step.
    pub alternative: Option<String>,
}

impl Locking {
    /// Whether the step holds a lock that stops writers for a second or more.
    pub fn is_long(&self) -> bool {
        self.estimate_ms >= LONG_MS && !matches!(self.lock, Lock::None | Lock::ShareUpdateExclusive)
    }

    /// One line: the lock, the work on the rows, and the estimate.
    pub fn summary(&self) -> String {
        let mut line = self.lock.describe().to_owned();
        let table = &self.table;
        let rows = records(self.rows);
        match (self.work, self.rows) {
            // A new table, or a change of validation rules only: no SQL touches existing rows.
            _ if self.lock == Lock::None => {}
            (_, 0) => {
                let _ = write!(line, "; `{table}` holds no records: brief");
            }
            (Work::Catalog, _) => {
                let _ = write!(
                    line,
                    "; catalog change only, no rewrite of `{table}` ({rows}): brief"
                );
            }
            (Work::Scan, _) => {
                let _ = write!(
                    line,
                    "; reads every row of `{table}` ({rows}), no rewrite: est. {}",
                    duration(self.estimate_ms)
                );
            }
            (Work::Rewrite, _) => {
                let _ = write!(
                    line,
                    "; REWRITES `{table}`, copying {rows}: est. {}",
                    duration(self.estimate_ms)
                );
            }
        }
        line
    }
}

/// A lock held this long (or longer) is worth a warning.
const LONG_MS: u64 = 1_000;

/// Rows per second of each kind of work, by engine. Measured on a shared 2-core server with a
/// million records of seven short columns and time-ordered ids (docs/ARCHITECT.md): SQLite
/// copied them in 1.4 s and indexed a column in 0.6 s; PostgreSQL 15 rewrote them for a type
/// change in 2.3 s, indexed a column in 0.84 s and checked a NOT NULL in 0.19 s. Rounded down,
/// as real records are wider.
fn rate(engine: Engine, work: Work) -> u64 {
    match (engine, work) {
        (_, Work::Catalog) => u64::MAX,
        (_, Work::Scan) => 1_000_000,
        (Engine::Sqlite, Work::Rewrite) => 500_000,
        (Engine::Postgres, Work::Rewrite) => 400_000,
    }
}

/// "under 1 s", "3 s", "2 min".
pub(crate) fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => "under 1 s".into(),
        1_000..120_000 => format!("{} s", ms.div_ceil(1_000)),
        _ => format!("{} min", ms.div_ceil(60_000)),
    }
}

/// The lock and work of one statement of Fathom's SQL on `engine`.
fn classify(engine: Engine, statement: &str) -> (Lock, Work) {
    let upper = statement.trim_start().to_ascii_uppercase();
    let starts = |prefix: &str| upper.starts_with(prefix);
    if engine == Engine::Sqlite {
        let work = if starts("INSERT INTO") {
            // The rebuild's copy into the scratch table.
            Work::Rewrite
        } else if starts("CREATE INDEX") || starts("CREATE UNIQUE INDEX") || starts("DELETE") {
            Work::Scan
        } else {
            Work::Catalog
        };
        return (Lock::DatabaseWrite, work);
    }
    if starts("CREATE TABLE") {
        (Lock::None, Work::Catalog)
    } else if upper.contains(" INDEX CONCURRENTLY ") {
        (Lock::ShareUpdateExclusive, Work::Scan)
    } else if starts("CREATE INDEX") || starts("CREATE UNIQUE INDEX") {
        (Lock::Share, Work::Scan)
    } else if starts("ALTER INDEX") {
        (Lock::ShareUpdateExclusive, Work::Catalog)
    } else if starts("DELETE") {
        (Lock::RowExclusive, Work::Scan)
    } else if starts("ALTER TABLE") {
        let not_valid = upper.ends_with(" NOT VALID");
        // A type change, or a column whose volatile default is computed per row, rewrites.
        let volatile_default = upper.contains(" ADD COLUMN ")
            && statement
                .split_once(" DEFAULT ")
                .is_some_and(|(_, default)| crate::postgres::ddl::is_volatile(default));
        if (upper.contains(" TYPE ") && upper.contains(" USING ")) || volatile_default {
            (Lock::AccessExclusive, Work::Rewrite)
        } else if upper.contains(" SET NOT NULL") {
            (Lock::AccessExclusive, Work::Scan)
        } else if upper.contains(" FOREIGN KEY ") {
            let work = if not_valid { Work::Catalog } else { Work::Scan };
            (Lock::ShareRowExclusive, work)
        } else if upper.contains(" ADD CONSTRAINT ") && upper.contains(" CHECK ") && !not_valid {
            (Lock::AccessExclusive, Work::Scan)
        } else {
            (Lock::AccessExclusive, Work::Catalog)
        }
    } else {
        // DROP TABLE, DROP INDEX, CREATE POLICY and anything new: the strongest, to be safe.
        (Lock::AccessExclusive, Work::Catalog)
    }
}

/// The lock and rewrite behaviour of a step that runs `sql` for `changes` on `table`, which
/// holds `rows` records.
pub(crate) fn review(
    engine: Engine,
    table: &str,
    changes: &[&Change],
    sql: &[String],
    rows: u64,
    live: &dyn LiveData,
) -> Locking {
    let mut lock = Lock::None;
    let mut work = Work::Catalog;
    let mut estimate_ms: u64 = 0;
    for statement in sql {
        let (l, w) = classify(engine, statement);
        lock = lock.max(l);
        work = work.max(w);
        if w != Work::Catalog {
            estimate_ms = estimate_ms.saturating_add(rows.saturating_mul(1_000) / rate(engine, w));
        }
    }
    // A new collection's table holds nothing yet, and SQLite's lock is taken whatever it is.
    if changes
        .iter()
        .all(|c| matches!(c, Change::CreateCollection(_)))
    {
        // On PostgreSQL nobody else sees the new table before the migration commits: only its
        // foreign keys lock an existing table (the one they point at).
        lock = if engine == Engine::Sqlite {
            Lock::DatabaseWrite
        } else if sql.iter().any(|q| q.contains(" FOREIGN KEY ")) {
            Lock::ShareRowExclusive
        } else {
            Lock::None
        };
    }
    let mut locking = Locking {
        table: table.to_owned(),
        rows,
        lock,
        work,
        estimate_ms,
        alternative: None,
    };
    if rows > 0 {
        let advice: Vec<String> = changes
            .iter()
            .filter_map(|c| alternative(engine, c, &locking, live))
            .collect();
        if !advice.is_empty() {
            locking.alternative = Some(advice.join(" "));
        }
    }
    locking
}

/// The safe way to make one risky change on a table that holds records.
fn alternative(
    engine: Engine,
    change: &Change,
    locking: &Locking,
    live: &dyn LiveData,
) -> Option<String> {
    let table = &locking.table;
    let held = duration(locking.estimate_ms);
    match change {
        // A type change that keeps the column (text to email on PostgreSQL) rewrites nothing.
        Change::AlterField { from, to, .. }
            if from.kind != to.kind && locking.work == Work::Rewrite =>
        {
            Some(format!(
            "To change the type of `{field}` without rewriting `{table}` under the lock (est. {held}): add a new optional field of type {kind}, fill it in batches (PATCH through the API, or `UPDATE` a few thousand ids at a time; `migrate apply --batch-size` batches only encryption conversions), switch clients to it, then drop `{field}` in a later migration.",
            field = to.name,
            kind = to.kind.name(),
        ))
        }
        Change::AlterField { to, .. } if to.required => Some(format!(
            "To make `{field}` required safely, fill its missing values first (`GET /api/v1/{table}?filter={field} = null` lists them), then migrate; or give it a `default`.",
            field = to.name,
        )),
        Change::AddField { field, .. } if field.required && field.default.is_none() => {
            Some(format!(
                "Add `{f}` with a `default` (a constant default is a catalog change{}), or add it optional, fill it in batches, then make it required.",
                if engine == Engine::Postgres {
                    " on PostgreSQL 11 and later, no rewrite"
                } else {
                    ""
                },
                f = field.name,
            ))
        }
        Change::CreateIndex { collection, index } => {
            if let Some(found) = live.duplicates(collection, &index.name)
                && found.groups > 0
            {
                return Some(format!(
                    "{} value{} of ({}) {} shared; list them with `{}`, make them unique, then migrate.",
                    found.groups,
                    if found.groups == 1 { "" } else { "s" },
                    index.fields.join(", "),
                    if found.groups == 1 { "is" } else { "are" },
                    found.query,
                ));
            }
            match (engine, locking.lock) {
                (Engine::Postgres, Lock::Share) if locking.is_long() => Some(format!(
                    "Writes to `{table}` wait {held} while the index builds: migrate the index on its own (a migration that changes nothing else on `{table}`) and it is built CONCURRENTLY, with writes going on."
                )),
                (Engine::Sqlite, _) if locking.is_long() => Some(format!(
                    "Every write waits {held} while the index builds (SQLite has no concurrent build): apply it at a quiet time."
                )),
                _ => None,
            }
        }
        Change::DropField { field, .. } => Some(format!(
            "Stop clients reading and writing `{f}` first (remove it from their requests and deploy them), then drop it{}.",
            if engine == Engine::Postgres {
                "; the drop itself is a catalog change, the space comes back as rows are rewritten or vacuumed"
            } else {
                ""
            },
            f = field.name,
        )),
        Change::SetTenantScoped { enabled: true, .. } => Some(
            "Existing records belong to no tenant: move them to a tenant-scoped copy of the collection, or empty it first."
                .into(),
        ),
        _ => None,
    }
}

impl MigrationPlan {
    /// The "Locks and rewrites" section `migrate plan` prints after the steps: per step the lock
    /// it takes, whether it rewrites its table, an estimate from the row count, and the safe
    /// alternative for the risky ones. Empty for an empty plan.
    pub fn render_locks(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "\nLocks and rewrites (each lock is held until the migration commits, so the estimates add up; an index built CONCURRENTLY runs before, outside it):"
        );
        for (n, step) in self.steps.iter().enumerate() {
            let locking = &step.locking;
            let flag = if locking.work == Work::Rewrite && locking.rows > 0 {
                "  [REWRITE]"
            } else if locking.is_long() {
                "  [LONG LOCK]"
            } else {
                ""
            };
            let _ = writeln!(out, "{}. {}{flag}", n + 1, step.description);
            let _ = writeln!(out, "   lock: {}", locking.summary());
            if let Some(alternative) = &locking.alternative {
                let _ = writeln!(out, "   safe alternative: {alternative}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
