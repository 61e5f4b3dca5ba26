//! A migration plan: the steps from the applied schema to the desired one, each with its exact SQL
//! and the risks found against the live data. `fathom migrate plan` prints [`MigrationPlan::render`].

use std::fmt::Write as _;

use fathom_schema::diff::narrows;
use fathom_schema::{Change, Field, Schema};

use crate::error::{StoreError, StoreErrorKind};

mod locks;

pub(crate) use locks::{Engine, review};
pub use locks::{Lock, Locking, Work};

/// Facts about the live data that a plan is judged against.
pub(crate) trait LiveData {
    /// Records of a collection, by its applied name.
    fn row_count(&self, table: &str) -> Result<u64, StoreError>;
    /// What stands in the way of a new unique index, by the desired collection and index
    /// names, when it was probed (see [`duplicate_probes`]).
    fn duplicates(&self, collection: &str, index: &str) -> Option<&Duplicates>;
}

/// Values that several live records share, found where a unique index is about to be built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// How many distinct values (tuples, for an index over several fields) are shared.
    pub groups: u64,
    /// A few of them, the most shared first: the values as text, and how many records hold them.
    pub examples: Vec<(Vec<String>, u64)>,
    /// The index covers a hidden field, so the values stay out of the plan (it is printed, and
    /// often kept in CI logs); only the counts are shown.
    pub concealed: bool,
    /// The query that lists every shared value with its record count, against the applied
    /// tables (the safe alternative of the plan's review quotes it).
    pub query: String,
}

/// How many shared values a plan names.
pub(crate) const DUPLICATE_EXAMPLES: usize = 3;

/// Longest quotation of a stored value in a plan, in characters.
const MAX_VALUE_CHARS: usize = 40;

/// One query that finds the shared values under a new unique index.
pub(crate) struct Probe {
    /// The desired collection and index names, which [`LiveData::duplicates`] is asked by.
    pub(crate) collection: String,
    pub(crate) index: String,
    /// Selects each shared tuple as text, its record count and the number of such tuples
    /// (the same on every row), most shared first, at most [`DUPLICATE_EXAMPLES`] rows.
    pub(crate) sql: String,
    /// How many value columns each row starts with.
    pub(crate) columns: usize,
    /// Whether an indexed field is hidden (see [`Duplicates::concealed`]).
    conceal: bool,
    /// See [`Duplicates::query`].
    list: String,
}

impl Probe {
    /// What the probe found, keyed as [`LiveData::duplicates`] looks it up.
    pub(crate) fn finish(self, mut found: Duplicates) -> ((String, String), Duplicates) {
        found.query = self.list;
        if self.conceal {
            found.concealed = true;
            for (values, _) in &mut found.examples {
                values.clear();
            }
        }
        ((self.collection, self.index), found)
    }
}

/// Both databases quote identifiers alike.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The collection's name before this plan's renames.
pub(crate) fn applied_name<'c>(changes: &'c [Change], collection: &'c str) -> &'c str {
    changes
        .iter()
        .find_map(|c| match c {
            Change::RenameCollection { from, to } if to == collection => Some(from.as_str()),
            _ => None,
        })
        .unwrap_or(collection)
}

/// The field's name before this plan's renames (`collection` is the desired name).
pub(crate) fn applied_field<'c>(
    changes: &'c [Change],
    collection: &str,
    field: &'c str,
) -> &'c str {
    changes
        .iter()
        .find_map(|c| match c {
            Change::RenameField {
                collection: owner,
                from,
                to,
            } if owner == collection && to == field => Some(from.as_str()),
            _ => None,
        })
        .unwrap_or(field)
}

/// A query per new unique index over columns the applied table already has, counting the
/// values live records share (nulls never collide in a unique index; soft-deleted records do
/// not count, as the index leaves them out or the migration purges them).
pub(crate) fn duplicate_probes(
    applied: &Schema,
    desired: &Schema,
    changes: &[Change],
) -> Vec<Probe> {
    let mut probes = Vec::new();
    for change in changes {
        let Change::CreateIndex { collection, index } = change else {
            continue;
        };
        let Some(old) = applied.collection(applied_name(changes, collection)) else {
            continue;
        };
        if !index.unique {
            continue;
        }
        let has = |column: &str| {
            old.field(column).is_some()
                || matches!(column, "id" | "version")
                || (old.timestamps && matches!(column, "created_at" | "updated_at"))
                || (old.tenant_scoped && column == "tenant")
        };
        let columns: Vec<&str> = index
            .fields
            .iter()
            .map(|f| applied_field(changes, collection, f))
            .collect();
        if !columns.iter().all(|c| has(c)) {
            continue;
        }
        let quoted: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let mut filters: Vec<String> = quoted.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        if old.soft_delete {
            filters.push("\"deleted_at\" IS NULL".into());
        }
        let texts: Vec<String> = quoted
            .iter()
            .map(|c| format!("CAST({c} AS TEXT)"))
            .collect();
        let grouped = format!(
            "FROM {} WHERE {} GROUP BY {} HAVING COUNT(*) > 1",
            quote(&old.name),
            filters.join(" AND "),
            quoted.join(", ")
        );
        probes.push(Probe {
            list: format!(
                "SELECT {}, COUNT(*) {grouped} ORDER BY COUNT(*) DESC",
                quoted.join(", ")
            ),
            collection: collection.clone(),
            index: index.name.clone(),
            sql: format!(
                "SELECT {}, COUNT(*), COUNT(*) OVER () {grouped} ORDER BY COUNT(*) DESC, {} LIMIT {DUPLICATE_EXAMPLES}",
                texts.join(", "),
                (1..=quoted.len()).map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
            ),
            columns: quoted.len(),
            conceal: index.fields.iter().any(|f| {
                desired
                    .collection(collection)
                    .and_then(|c| c.field(f))
                    .is_some_and(|f| f.hidden)
            }),
        });
    }
    probes
}

/// "`\"A-1\"` (3 records)", or a tuple for an index over several fields.
fn shared_value((values, count): &(Vec<String>, u64)) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| {
            let shown: String = if v.chars().count() > MAX_VALUE_CHARS {
                let cut: String = v.chars().take(MAX_VALUE_CHARS - 1).collect();
                format!("{cut}…")
            } else {
                v.clone()
            };
            format!("{shown:?}")
        })
        .collect();
    let value = if quoted.len() == 1 {
        quoted.concat()
    } else {
        format!("({})", quoted.join(", "))
    };
    format!("`{value}` ({})", records(*count))
}

/// The risk of building a unique index over values that live records share.
fn duplicates_risk(collection: &str, fields: &[String], found: &Duplicates) -> Risk {
    let examples = if found.concealed {
        let counts: Vec<String> = found.examples.iter().map(|(_, n)| records(*n)).collect();
        format!(
            " (held by {}; values of hidden fields are not shown)",
            counts.join(", ")
        )
    } else {
        let shown: Vec<String> = found.examples.iter().map(shared_value).collect();
        format!(", for example {}", shown.join(", "))
    };
    let groups = found.groups;
    Risk::unsafe_(format!(
        "{groups} value{} of `{collection}` ({}) {} held by more than one record{examples}: the unique index cannot be built and the migration would fail; make them unique first",
        if groups == 1 { "" } else { "s" },
        fields.join(", "),
        if groups == 1 { "is" } else { "are" },
    ))
}

/// A failed statement of a plan, explained in the plan's terms: a unique index that met shared
/// values names the step and the values its plan found instead of the database's own message,
/// which speaks of constraints and tables rather than of the schema file.
pub(crate) fn explain_failure(
    plan: &MigrationPlan,
    statement: &str,
    mut error: StoreError,
) -> StoreError {
    let step = plan
        .steps
        .iter()
        .find(|s| s.sql.iter().any(|q| q == statement));
    match (&error.kind, step) {
        (StoreErrorKind::UniqueViolation { .. }, Some(step)) => {
            let found: Vec<&str> = step
                .risks
                .iter()
                .filter(|r| r.level == RiskLevel::Unsafe)
                .map(|r| r.message.as_str())
                .collect();
            error.detail = if found.is_empty() {
                format!(
                    "`{}` failed: records share a value that must now be unique; run `fathom migrate plan` to see which",
                    step.description
                )
            } else {
                format!("`{}` failed: {}", step.description, found.join("; "))
            };
        }
        _ => error.detail = format!("{} (while running: {statement})", error.detail),
    }
    error
}

/// How serious a risk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    /// Worth knowing (a table rewrite, a lock while an index builds); applies without a flag.
    Caution,
    /// Loses data, breaks API clients, or may reject existing data: needs `--allow-destructive`.
    Unsafe,
}

/// One risk of one step, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    pub level: RiskLevel,
    pub message: String,
}

impl Risk {
    pub(crate) fn caution(message: impl Into<String>) -> Self {
        Self {
            level: RiskLevel::Caution,
            message: message.into(),
        }
    }

    pub(crate) fn unsafe_(message: impl Into<String>) -> Self {
        Self {
            level: RiskLevel::Unsafe,
            message: message.into(),
        }
    }
}

/// One step: what it does, the SQL it runs, and its risks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub description: String,
    /// Empty when the change is to validation rules only.
    pub sql: Vec<String>,
    pub risks: Vec<Risk>,
    /// The lock it takes, whether it rewrites its table, and the safe alternative when risky.
    pub locking: Locking,
}

impl PlannedStep {
    pub fn is_unsafe(&self) -> bool {
        self.risks.iter().any(|r| r.level == RiskLevel::Unsafe)
    }
}

/// Every step from `from_version` to the next version.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationPlan {
    /// The applied version the plan starts from (0 for an empty database).
    pub from_version: i64,
    pub steps: Vec<PlannedStep>,
}

impl MigrationPlan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn is_unsafe(&self) -> bool {
        self.steps.iter().any(PlannedStep::is_unsafe)
    }

    /// Every SQL statement of the plan, in order.
    pub fn statements(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .flat_map(|s| s.sql.iter().map(String::as_str))
    }

    /// The plan as `migrate plan` prints it: steps, exact SQL, and flagged risks.
    pub fn render(&self) -> String {
        let mut out = self.render_steps();
        out.push_str(&self.render_footer());
        out
    }

    /// The steps with their exact SQL and risks, without the closing advice of an unsafe plan
    /// (so that other sections can come between them).
    pub fn render_steps(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            let _ = writeln!(
                out,
                "The database matches the schema file (version {}); nothing to migrate.",
                self.from_version
            );
            return out;
        }
        let _ = writeln!(
            out,
            "Migration plan: version {} -> {} ({} step{})",
            self.from_version,
            self.from_version + 1,
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" }
        );
        for (n, step) in self.steps.iter().enumerate() {
            let flag = if step.is_unsafe() { "  [UNSAFE]" } else { "" };
            let _ = writeln!(out, "\n{}. {}{flag}", n + 1, step.description);
            for risk in &step.risks {
                let label = match risk.level {
                    RiskLevel::Caution => "caution",
                    RiskLevel::Unsafe => "unsafe",
                };
                let _ = writeln!(out, "   {label}: {}", risk.message);
            }
            if step.sql.is_empty() {
                let _ = writeln!(out, "   -- no SQL: validation rules only");
            }
            for statement in &step.sql {
                let _ = writeln!(out, "   {statement};");
            }
        }
        out
    }

    /// The closing advice of an unsafe plan; empty otherwise.
    pub fn render_footer(&self) -> String {
        let mut out = String::new();
        if self.is_unsafe() {
            let _ = writeln!(
                out,
                "\nThis plan has unsafe steps. Review them, back up the database, then run \
                 `fathom migrate apply --allow-destructive`."
            );
        }
        out
    }
}

/// One applied migration as recorded in the database.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedMigration {
    pub version: i64,
    pub applied_at: String,
    /// The schema snapshot this version brought the database to.
    pub schema: Schema,
    pub statements: Vec<String>,
}

/// "1 record", "3 records".
pub(crate) fn records(rows: u64) -> String {
    if rows == 1 {
        "1 record".into()
    } else {
        format!("{rows} records")
    }
}

/// How the stored values of a field whose `encrypted` or `blind_index` flag changes are
/// converted, and what that means meanwhile: a caution, as the conversion is online and
/// resumable (see `convert.rs`), but one that says where plaintext goes.
fn conversion_risk(collection: &str, from: &Field, to: &Field, rows: u64) -> Option<Risk> {
    const HOW: &str = "re-written after the schema change commits, by `fathom migrate apply`, in batches of `--batch-size` (500 by default), one transaction each (online, resumable: run it again)";
    let field = &to.name;
    let message = if to.encrypted && !from.encrypted {
        format!(
            "encrypt `{field}` of `{collection}`: the values of {} {HOW}{}; meanwhile readers see converted and unconverted records alike, each with its plaintext, and {}; the old plaintext is scrubbed from SQLite's file and write-ahead log when the conversion ends, while on PostgreSQL it stays in dead row versions and WAL segments until VACUUM and WAL recycling",
            records(rows),
            if to.blind_index {
                ", filling the blind index in the same batch"
            } else {
                ""
            },
            if to.blind_index {
                "equality filters on it match converted records only"
            } else {
                "filters on it are refused as for any encrypted field"
            }
        )
    } else if from.encrypted && !to.encrypted {
        format!(
            "decrypt `{field}` of `{collection}` (stores plaintext): the values of {} {HOW}; the plaintext lands in the database, its write-ahead log and every later backup; meanwhile readers get the plaintext of every record, and filters on it match converted records only",
            records(rows)
        )
    } else if to.blind_index && !from.blind_index {
        format!(
            "fill the blind index of `{field}` of `{collection}`: the values of {} {HOW}; meanwhile equality filters on it match filled records only",
            records(rows)
        )
    } else if from.blind_index && !to.blind_index {
        format!(
            "drop the blind index of `{field}` of `{collection}` ({}): equality filters on it are refused from now on",
            records(rows)
        )
    } else {
        return None;
    };
    Some(Risk::caution(message))
}

/// The risks of one change against a table holding `rows` records.
pub(crate) fn risks_of(change: &Change, rows: u64, live: &dyn LiveData) -> Vec<Risk> {
    let mut risks = Vec::new();
    match change {
        Change::RenameCollection { from, to } => risks.push(Risk::unsafe_(format!(
            "breaks API clients: the records stay, but under `/api/v1/{to}` instead of `/api/v1/{from}`"
        ))),
        Change::RenameField {
            collection,
            from,
            to,
        } => risks.push(Risk::unsafe_(format!(
            "breaks API clients: the values of `{collection}.{from}` stay, but are read and written as `{to}`"
        ))),
        Change::CreateIndex { index, collection } if index.unique && rows > 0 => {
            match live.duplicates(collection, &index.name) {
                Some(found) if found.groups > 0 => {
                    risks.push(duplicates_risk(collection, &index.fields, found));
                }
                // Probed and clean: the build cannot fail on today's records.
                Some(_) => {}
                None => risks.push(Risk::caution(format!(
                    "the unique index on `{collection}` ({}) fails, and the migration with it, if existing records share a value",
                    index.fields.join(", ")
                ))),
            }
        }
        Change::DropField { collection, field } => risks.push(Risk::unsafe_(format!(
            "deletes every value of `{collection}.{}` and removes the field from the API",
            field.name
        ))),
        Change::AlterField {
            collection,
            from,
            to,
        } => {
            if from.kind != to.kind {
                risks.push(Risk::unsafe_(format!(
                    "narrows or changes the type of `{}` from {} to {}: clients break and values that do not convert make the migration fail",
                    to.name,
                    from.kind.name(),
                    to.kind.name()
                )));
            }
            if rows > 0 {
                risks.extend(conversion_risk(collection, from, to, rows));
            }
            if to.required && !from.required && rows > 0 {
                risks.push(Risk::unsafe_(format!(
                    "makes `{}` required: records without a value make the migration fail",
                    to.name
                )));
            }
        }
        Change::AddField { field, .. } if field.required && field.default.is_none() && rows > 0 => {
            risks.push(Risk::unsafe_(format!(
                "adds the required field `{}` without a default to a table holding {}: the migration will fail; give the field a default or make it optional",
                field.name,
                records(rows)
            )))
        }
        Change::RetuneField { from, to, .. } if rows > 0 && narrows(from, to) => risks.push(Risk::unsafe_(format!(
            "tightens the rules of `{}`: existing records may no longer pass validation when next updated",
            to.name
        ))),
        Change::SetSoftDelete { enabled: false, collection } if rows > 0 => risks.push(Risk::unsafe_(format!(
            "turns soft delete off for `{collection}`: records that were soft-deleted are purged for good"
        ))),
        Change::SetTimestamps { enabled: false, collection } if rows > 0 => risks.push(Risk::unsafe_(format!(
            "drops `created_at` and `updated_at` of every record in `{collection}`"
        ))),
        Change::SetTimestamps { enabled: true, collection } if rows > 0 => risks.push(Risk::caution(format!(
            "existing records of `{collection}` get the migration time as `created_at` and `updated_at`"
        ))),
        Change::SetTenantScoped { enabled: true, collection } if rows > 0 => risks.push(Risk::unsafe_(format!(
            "makes `{collection}` tenant-scoped, but its existing records belong to no tenant: the migration will fail; empty the collection first"
        ))),
        Change::SetTenantScoped { enabled: false, collection } if rows > 0 => risks.push(Risk::unsafe_(format!(
            "makes `{collection}` shared: every tenant's records become visible to every tenant"
        ))),
        Change::DropIndex { index, .. } if index.unique => risks.push(Risk::caution(format!(
            "values of ({}) no longer have to be unique",
            index.fields.join(", ")
        ))),
        _ => {}
    }
    risks
}
