//! A plan's steps as findings and JSON, and the review's text around an empty plan.

use fathom_store::{Lock, Locking, MigrationPlan, PlannedStep, Work};
use serde_json::{Value, json};

use super::*;
use crate::api_diff::{ApiChange, ApiChangeKind};

fn step(description: &str, lock: Lock, work: Work, rows: u64, estimate_ms: u64) -> PlannedStep {
    PlannedStep {
        description: description.into(),
        sql: vec![
            "ALTER TABLE \"notes\" ALTER COLUMN \"code\" TYPE bigint USING \"code\"::bigint".into(),
        ],
        risks: vec![],
        locking: Locking {
            table: "notes".into(),
            rows,
            lock,
            work,
            estimate_ms,
            alternative: None,
        },
    }
}

fn rule_change() -> ApiChange {
    ApiChange::new(
        ApiChangeKind::RuleTightened,
        Some("notes"),
        "`notes` list rule",
        "collections.notes.rules.list",
        (json!(true), json!("auth.id != null")),
        "fewer callers",
    )
}

#[test]
fn a_long_rewrite_under_access_exclusive_is_a_critical_migration_risk() {
    let plan = MigrationPlan {
        from_version: 3,
        steps: vec![
            step(
                "change field",
                Lock::AccessExclusive,
                Work::Rewrite,
                1_000_000,
                2_500,
            ),
            // A catalog change on a table with records is no finding.
            step(
                "add field",
                Lock::AccessExclusive,
                Work::Catalog,
                1_000_000,
                0,
            ),
        ],
    };
    let review = Review {
        plan: &plan,
        api: vec![],
    };
    let findings = review.findings();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding.kind, FindingKind::MigrationRisk);
    assert_eq!(finding.severity, Severity::Critical);
    assert_eq!(finding.collection.as_deref(), Some("notes"));
    assert_eq!(finding.evidence["rows"], 1_000_000);
    assert_eq!(finding.evidence["work"], "rewrite");
    assert_eq!(finding.change.sql, plan.steps[0].sql);
    assert!(!review.has_breaking());
}

#[test]
fn json_has_versions_locking_api_changes_and_findings() {
    let plan = MigrationPlan {
        from_version: 3,
        steps: vec![step(
            "change field",
            Lock::DatabaseWrite,
            Work::Rewrite,
            10,
            0,
        )],
    };
    let review = Review {
        plan: &plan,
        api: vec![rule_change()],
    };
    let json = review.to_json();
    assert_eq!(
        (json["from_version"].clone(), json["to_version"].clone()),
        (json!(3), json!(4))
    );
    assert_eq!(json["breaking"], true);
    assert_eq!(json["steps"][0]["locking"]["lock"], "database_write");
    assert_eq!(json["steps"][0]["locking"]["rewrites"], true);
    assert_eq!(json["api_changes"][0]["kind"], "rule_tightened");
    let kinds: Vec<&Value> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| &f["kind"])
        .collect();
    assert_eq!(
        kinds,
        [&json!("migration_risk"), &json!("breaking_api_change")]
    );
}

#[test]
fn an_empty_plan_shows_api_changes_only_when_there_are_some() {
    let plan = MigrationPlan {
        from_version: 2,
        steps: vec![],
    };
    let quiet = Review {
        plan: &plan,
        api: vec![],
    };
    assert_eq!(quiet.render(), plan.render());
    let rules = Review {
        plan: &plan,
        api: vec![rule_change()],
    };
    let text = rules.render();
    assert!(text.starts_with(&plan.render()), "{text}");
    assert!(
        text.contains("API changes: 1 breaking, 0 to review, 0 additive"),
        "{text}"
    );
    assert!(text.ends_with(RULES_ONLY), "{text}");
    assert_eq!(rules.to_json()["to_version"], 2);
}
