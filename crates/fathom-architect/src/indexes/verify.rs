//! A verified candidate turned into a finding: the plans and costs before and after, the
//! shape's figures, the estimated gain, and the exact change (the schema lines and the
//! migration's SQL on this database). A candidate the plans do not confirm gives no finding.

use fathom_schema::Collection;
use fathom_store::shapes::{ShapeKind, ShapeReport};
use fathom_store::{PlanReading, Store, Verification};
use serde_json::json;

use super::candidate::Candidate;
use super::patch;
use crate::{Change, Finding, FindingKind, Severity};

/// p95 from which a missing index is critical, in microseconds.
const CRITICAL_P95_MICROS: u64 = 50_000;

/// Whether the plans say the candidate is worth building: the plan with it reads it, no
/// longer scans the table or no longer sorts (and does not start to), and costs less.
pub fn confirms(verification: &Verification, candidate: &Candidate) -> bool {
    let (before, after) = (&verification.before, &verification.after);
    let reads_it = after.indexes.iter().any(|i| i == &candidate.effective.name);
    let scan_gone = before.full_scan && !after.full_scan;
    let sort_gone = before.temp_sort && !after.temp_sort;
    let no_new_sort = !after.temp_sort || before.temp_sort;
    reads_it && (scan_gone || sort_gone) && no_new_sort && after.cost < before.cost
}

fn plan_json(plan: &PlanReading) -> serde_json::Value {
    json!({
        "plan": plan.lines,
        "cost": (plan.cost * 100.0).round() / 100.0,
        "full_scan": plan.full_scan,
        "temp_sort": plan.temp_sort,
        "indexes": plan.indexes,
    })
}

fn millis(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// What the shape does, in words: `list with team = ? && priority > ? sorted by -created_at`.
fn describe(report: &ShapeReport) -> String {
    let shape = &report.shape;
    let mut text = match shape.kind {
        ShapeKind::List => "list".to_owned(),
        ShapeKind::Count => "count".to_owned(),
        ShapeKind::Get => "get".to_owned(),
    };
    if !shape.filter.is_empty() {
        text.push_str(&format!(" with `{}`", shape.filter));
    }
    // The trailing `id` ascending is the default tiebreaker, left out as the caller did.
    let sort: Vec<String> = shape
        .sort
        .iter()
        .filter(|s| s.path != "id" || s.descending)
        .map(|s| format!("{}{}", if s.descending { "-" } else { "" }, s.path))
        .collect();
    if !sort.is_empty() {
        text.push_str(&format!(" sorted by `{}`", sort.join(",")));
    }
    text
}

/// The finding for a confirmed candidate.
pub fn finding(
    store: &Store,
    collection: &Collection,
    report: &ShapeReport,
    candidate: &Candidate,
    verification: &Verification,
) -> Finding {
    let stats = &report.stats;
    let (before, after) = (&verification.before, &verification.after);
    let what = match (before.full_scan, before.temp_sort) {
        (true, true) => "scans the table and sorts it",
        (true, false) => "scans the table",
        _ => "sorts every matching row",
    };
    let ratio = if after.cost > 0.0 {
        before.cost / after.cost
    } else {
        before.cost
    };
    let estimate = if ratio > 0.0 {
        stats.p95_micros as f64 / ratio
    } else {
        stats.p95_micros as f64
    };
    let gain = format!(
        "estimated cost {:.1} → {:.1} ({ratio:.0}× less); p95 {} → est. {}",
        before.cost,
        after.cost,
        millis(stats.p95_micros),
        millis(estimate.round() as u64),
    );
    let declared = patch::fields_array(&candidate.declared);
    Finding {
        kind: FindingKind::MissingIndex,
        severity: if stats.p95_micros >= CRITICAL_P95_MICROS {
            Severity::Critical
        } else {
            Severity::Warning
        },
        collection: Some(collection.name.clone()),
        title: format!(
            "`{}`: the {} {what}; an index on {declared} serves it",
            collection.name,
            describe(report)
        ),
        evidence: json!({
            "shape": report.shape,
            "calls": stats.calls,
            "p95_ms": stats.p95_micros as f64 / 1000.0,
            "rows": verification.rows,
            "verified_with": verification.method,
            "index": candidate.effective.name,
            "before": plan_json(before),
            "after": plan_json(after),
        }),
        gain: Some(gain),
        change: Change {
            schema_patch: Some(patch::add_index(&collection.name, &candidate.declared)),
            sql: vec![store.index_sql(collection, &candidate.effective)],
            advice: format!(
                "Add the index {declared} to `{}` in the schema file, then run `fathom migrate plan` and `fathom migrate apply`.",
                collection.name
            ),
        },
    }
}
