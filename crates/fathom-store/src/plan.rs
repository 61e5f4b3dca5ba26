//! A migration plan: the steps from the applied schema to the desired one, each with its exact SQL
//! and the risks found against the live data. `fathom migrate plan` prints [`MigrationPlan::render`].

use std::fmt::Write as _;

use fathom_schema::Schema;

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
