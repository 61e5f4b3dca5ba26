//! Migration review (docs/ARCHITECT.md): a migration plan's steps as findings (the lock each
//! takes, whether it rewrites its table, the estimate from its row count, the safe
//! alternative), beside the API changes the migration makes, in the forms `fathom migrate plan`
//! prints (text and `--json`).

use fathom_store::{Lock, MigrationPlan, PlannedStep, RiskLevel, Work};
use serde_json::{Value, json};

use crate::api_diff::{self, ApiChange, Impact};
use crate::{Change, Finding, FindingKind, Severity};

/// What an empty plan with API changes says of them.
const RULES_ONLY: &str = "\nNo migration records these: servers take them from their schema file (on SIGHUP or restart).\n";

/// A plan with the API changes it makes: what `migrate plan` shows.
pub struct Review<'p> {
    pub plan: &'p MigrationPlan,
    /// Sorted, breaking ones first ([`api_diff::sort`]).
    pub api: Vec<ApiChange>,
}

impl Review<'_> {
    /// Whether any API change breaks or needs review (what `--deny-breaking` refuses).
    pub fn has_breaking(&self) -> bool {
        self.api.iter().any(|c| c.impact != Impact::Additive)
    }

    /// The text `migrate plan` prints: the steps, then "Locks and rewrites", then "API
    /// changes", then the advice of an unsafe plan. An empty plan is the plan's one line alone.
    ///
    /// A change of access rules alone is no migration (the database does not hold rules; a
    /// server takes them from its schema file on SIGHUP or restart), but it changes the API all
    /// the same: an empty plan still lists such changes, saying how they arrive.
    pub fn render(&self) -> String {
        let mut out = self.plan.render_steps();
        if !self.plan.is_empty() {
            out.push_str(&self.plan.render_locks());
            out.push_str(&api_diff::render(&self.api));
        } else if !self.api.is_empty() {
            out.push_str(&api_diff::render(&self.api));
            out.push_str(RULES_ONLY);
        }
        out.push_str(&self.plan.render_footer());
        out
    }

    /// Every finding: a `MigrationRisk` per step worth one, then the API changes.
    pub fn findings(&self) -> Vec<Finding> {
        self.plan
            .steps
            .iter()
            .filter_map(step_finding)
            .chain(self.api.iter().map(ApiChange::to_finding))
            .collect()
    }

    /// `migrate plan --json`: the versions, every step with its SQL, risks and locking, the API
    /// changes, and the findings.
    pub fn to_json(&self) -> Value {
        json!({
            "from_version": self.plan.from_version,
            "to_version": if self.plan.is_empty() { self.plan.from_version } else { self.plan.from_version + 1 },
            "unsafe": self.plan.is_unsafe(),
            "breaking": self.has_breaking(),
            "steps": self.plan.steps.iter().map(step_json).collect::<Vec<_>>(),
            "api_changes": self.api,
            "findings": self.findings(),
        })
    }
}

fn step_json(step: &PlannedStep) -> Value {
    let locking = &step.locking;
    json!({
        "description": step.description,
        "sql": step.sql,
        "unsafe": step.is_unsafe(),
        "risks": step.risks.iter().map(|r| json!({
            "level": match r.level { RiskLevel::Caution => "caution", RiskLevel::Unsafe => "unsafe" },
            "message": r.message,
        })).collect::<Vec<_>>(),
        "locking": {
            "table": locking.table,
            "rows": locking.rows,
            "lock": locking.lock.name(),
            "work": locking.work.name(),
            "rewrites": locking.work == Work::Rewrite,
            "estimate_ms": locking.estimate_ms,
            "summary": locking.summary(),
            "alternative": locking.alternative,
        },
    })
}

/// A step as a `MigrationRisk` finding when it rewrites a table with records, holds a lock
/// that stops writers for a second or more, is unsafe, or has a safe alternative.
fn step_finding(step: &PlannedStep) -> Option<Finding> {
    let locking = &step.locking;
    let rewrites = locking.work == Work::Rewrite && locking.rows > 0;
    if !(rewrites || locking.is_long() || step.is_unsafe() || locking.alternative.is_some()) {
        return None;
    }
    let severity =
        if step.is_unsafe() || (locking.is_long() && locking.lock == Lock::AccessExclusive) {
            Severity::Critical
        } else {
            Severity::Warning
        };
    Some(Finding {
        kind: FindingKind::MigrationRisk,
        severity,
        collection: Some(locking.table.clone()),
        title: format!("{}: {}", step.description, locking.summary()),
        evidence: json!({
            "rows": locking.rows,
            "lock": locking.lock.name(),
            "work": locking.work.name(),
            "estimate_ms": locking.estimate_ms,
            "risks": step.risks.iter().map(|r| r.message.clone()).collect::<Vec<_>>(),
        }),
        gain: None,
        change: Change {
            schema_patch: None,
            sql: step.sql.clone(),
            advice: locking
                .alternative
                .clone()
                .unwrap_or_else(|| "Apply at a quiet time: the lock is held while it runs.".into()),
        },
    })
}

#[cfg(test)]
mod tests;
