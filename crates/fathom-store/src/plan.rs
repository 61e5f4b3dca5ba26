//! A migration plan: the steps from the applied schema to the desired one, each with its exact SQL
//! and the risks found against the live data. `fathom migrate plan` prints [`MigrationPlan::render`].

use std::fmt::Write as _;

use fathom_schema::diff::narrows;
use fathom_schema::{Change, Schema};

use crate::error::StoreError;

/// Facts about the live data that a plan is judged against.
pub(crate) trait LiveData {
    fn row_count(&self, table: &str) -> Result<u64, StoreError>;
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

/// The risks of one change against a table holding `rows` records.
pub(crate) fn risks_of(change: &Change, rows: u64) -> Vec<Risk> {
    let mut risks = Vec::new();
    match change {
        Change::DropField { collection, field } => risks.push(Risk::unsafe_(format!(
            "deletes every value of `{collection}.{}` and removes the field from the API",
            field.name
        ))),
        Change::AlterField { from, to, .. } => {
            if from.kind != to.kind {
                risks.push(Risk::unsafe_(format!(
                    "narrows or changes the type of `{}` from {} to {}: clients break and values that do not convert make the migration fail",
                    to.name,
                    from.kind.name(),
                    to.kind.name()
                )));
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
        Change::CreateIndex { index, collection } if index.unique && rows > 0 => risks.push(Risk::caution(format!(
            "the unique index on `{collection}` ({}) fails, and the migration with it, if existing records share a value",
            index.fields.join(", ")
        ))),
        Change::DropIndex { index, .. } if index.unique => risks.push(Risk::caution(format!(
            "values of ({}) no longer have to be unique",
            index.fields.join(", ")
        ))),
        _ => {}
    }
    risks
}
