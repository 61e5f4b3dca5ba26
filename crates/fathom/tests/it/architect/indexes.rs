//! Index advice on both databases: a frequent page the indexes do not serve gets exactly the
//! composite index that serves it, verified against the plans; once that index is declared and
//! migrated, the page's plan no longer scans and no advice is given; a page already served
//! gets none; redundant and unused indexes are flagged.

use std::sync::Arc;

use fathom_architect::{Finding, FindingKind, IndexOptions, advise_indexes};
use fathom_store::shapes::ShapeReport;

use super::support::{
    RECORDS, TASKS, as_admin, enable_hypopg, seeded, seeded_in, status_page, team_page,
};
use crate::helpers::{TestApp, on_postgres, spawn_app};

/// The schema with the advised index declared.
fn with_team_index() -> String {
    TASKS.replace(
        "indexes = [[\"status\", \"created_at\", \"id\"]]",
        "indexes = [[\"status\", \"created_at\", \"id\"], [\"team\", \"created_at\", \"id\"]]",
    )
}

async fn advise(app: &TestApp, reports: &[ShapeReport]) -> Vec<Finding> {
    advise_indexes(&app.store, &app.schema, reports, &IndexOptions::default())
        .await
        .expect("advice")
}

fn of_kind(findings: &[Finding], kind: FindingKind) -> Vec<&Finding> {
    findings.iter().filter(|f| f.kind == kind).collect()
}

#[tokio::test]
async fn a_missing_index_is_advised_exactly_and_once_migrated_the_plan_no_longer_scans() {
    let app = seeded(TASKS).await;
    // hypopg is asked for where the server has it (the test cluster installs the Debian
    // package); the fallback, a temporary copy, has a test of its own below.
    let hypopg = enable_hypopg(&app).await;
    as_admin(&app, "ANALYZE tasks;").await;
    let findings = advise(&app, &[team_page()]).await;
    let missing = of_kind(&findings, FindingKind::MissingIndex);
    assert_eq!(missing.len(), 1, "{findings:#?}");
    let finding = missing[0];
    assert_eq!(finding.collection.as_deref(), Some("tasks"));
    assert_eq!(
        finding.change.schema_patch.as_deref(),
        Some("[collections.tasks]\nindexes = [[\"team\", \"created_at\", \"id\"]]\n")
    );
    let collection = app.schema.collection("tasks").expect("tasks");
    let wanted = fathom_schema::Index::new(
        "tasks",
        vec!["team".into(), "created_at".into(), "id".into()],
        false,
    );
    assert_eq!(
        finding.change.sql,
        vec![app.store.index_sql(collection, &wanted)]
    );
    let evidence = &finding.evidence;
    assert_eq!(evidence["index"], "idx_tasks__team__created_at__id");
    assert_eq!(evidence["calls"], 500);
    assert_eq!(evidence["rows"], RECORDS as u64);
    assert_eq!(
        evidence["verified_with"],
        match (on_postgres(), hypopg) {
            (false, _) => "sqlite-scratch",
            (true, true) => "hypopg",
            (true, false) => "postgres-scratch",
        }
    );
    assert_eq!(evidence["before"]["full_scan"], true, "{evidence:#}");
    assert_eq!(evidence["after"]["full_scan"], false, "{evidence:#}");
    if !on_postgres() {
        // SQLite reads the page off the index in order. PostgreSQL's planner rightly fetches
        // a team's hundred rows through a bitmap and sorts them: the scan is what goes.
        assert_eq!(evidence["after"]["temp_sort"], false, "{evidence:#}");
    }
    assert!(
        evidence["after"]["cost"].as_f64() < evidence["before"]["cost"].as_f64(),
        "{evidence:#}"
    );
    assert!(
        evidence["after"]["indexes"]
            .as_array()
            .is_some_and(|i| i.contains(&"idx_tasks__team__created_at__id".into())),
        "{evidence:#}"
    );
    assert!(
        finding
            .gain
            .as_deref()
            .is_some_and(|g| g.contains("p95 9.90 ms"))
    );

    // Declared and migrated (a restart on the new schema applies the additive change), the
    // index serves the page: its plan reads it, and the advice is gone.
    let app = app.restart(&with_team_index()).await;
    as_admin(&app, "ANALYZE tasks;").await;
    let shape = team_page();
    let collection = Arc::clone(app.schema.collection("tasks").expect("tasks"));
    let plan = plan_of(&app, &shape, collection).await;
    assert!(!plan.full_scan, "{plan:#?}");
    assert_eq!(plan.is_served(), !on_postgres(), "{plan:#?}");
    assert!(
        plan.indexes
            .contains(&"idx_tasks__team__created_at__id".to_owned()),
        "{plan:#?}"
    );
    let findings = advise(&app, &[shape]).await;
    assert!(
        of_kind(&findings, FindingKind::MissingIndex).is_empty(),
        "{findings:#?}"
    );
    app.stop().await;
}

/// The plan the database runs now for the shape, as the advisor rebuilds it.
async fn plan_of(
    app: &TestApp,
    report: &ShapeReport,
    collection: Arc<fathom_schema::Collection>,
) -> fathom_store::PlanReading {
    let team = "team-7";
    let filter = format!("team = \"{team}\" && priority > 1");
    let expr = fathom_query::parse(&filter).expect("parses");
    let filter = fathom_query::check(
        &expr,
        &filter,
        &app.schema,
        &collection,
        &fathom_query::Env::default(),
    )
    .expect("checks");
    assert_eq!(report.shape.filter, "team = ? && priority > ?");
    let query = fathom_store::ListQuery {
        filter: Some(filter),
        sort: fathom_query::parse_sort("-created_at,-id", &collection).expect("sort"),
        after: None,
        limit: 32,
        offset: 0,
    };
    app.store
        .read_plan(
            &fathom_store::Scope::AllTenants,
            collection,
            fathom_store::AdvisedRead::List(query),
        )
        .await
        .expect("plan")
}

#[tokio::test]
async fn a_page_an_index_already_serves_or_a_rare_fast_one_gets_no_advice() {
    let app = seeded(TASKS).await;
    enable_hypopg(&app).await;
    as_admin(&app, "ANALYZE tasks;").await;
    let findings = advise(&app, &[status_page()]).await;
    assert!(
        of_kind(&findings, FindingKind::MissingIndex).is_empty(),
        "{findings:#?}"
    );
    // A page that scans but is rare and fast is not worth an index (below 50 calls and a
    // p95 of 5 ms, the defaults).
    let mut rare = team_page();
    rare.stats.calls = 3;
    rare.stats.p95_micros = 1_200;
    let findings = advise(&app, &[rare.clone()]).await;
    assert!(
        of_kind(&findings, FindingKind::MissingIndex).is_empty(),
        "{findings:#?}"
    );
    // The same page when slow is.
    rare.stats.p95_micros = 7_000;
    let findings = advise(&app, &[rare]).await;
    assert_eq!(of_kind(&findings, FindingKind::MissingIndex).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn without_hypopg_postgresql_verifies_on_a_temporary_copy() {
    if !on_postgres() {
        return;
    }
    let app = seeded(TASKS).await;
    as_admin(&app, "ANALYZE tasks;").await;
    let findings = advise(&app, &[team_page()]).await;
    let missing = of_kind(&findings, FindingKind::MissingIndex);
    assert_eq!(missing.len(), 1, "{findings:#?}");
    assert_eq!(missing[0].evidence["verified_with"], "postgres-scratch");
    assert_eq!(
        missing[0].evidence["index"],
        "idx_tasks__team__created_at__id"
    );
    // The copy was rolled back: the live table has no such index.
    let again = advise(&app, &[team_page()]).await;
    assert_eq!(of_kind(&again, FindingKind::MissingIndex).len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_redundant_index_is_flagged_on_this_database() {
    // `(team, priority)` is a prefix of `(team, priority, id)` on SQLite and the same keys on
    // PostgreSQL, where every non-unique index ends with `id`.
    let app = spawn_app(&TASKS.replace(
        "indexes = [[\"status\", \"created_at\", \"id\"]]",
        "indexes = [[\"team\", \"priority\"], [\"team\", \"priority\", \"id\"], [\"status\"]]",
    ))
    .await;
    let findings = advise(&app, &[]).await;
    let redundant = of_kind(&findings, FindingKind::RedundantIndex);
    assert_eq!(redundant.len(), 1, "{findings:#?}");
    assert_eq!(redundant[0].evidence["index"], "idx_tasks__team__priority");
    assert_eq!(
        redundant[0].evidence["covered_by"],
        "idx_tasks__team__priority__id"
    );
    assert!(redundant[0].change.sql[0].starts_with("DROP INDEX"));
    assert!(
        redundant[0]
            .change
            .advice
            .contains("Remove [\"team\", \"priority\"]"),
        "{:?}",
        redundant[0].change
    );
    // No shape was recorded: idle and unused look alike, so nothing is called unused.
    assert!(of_kind(&findings, FindingKind::UnusedIndex).is_empty());
    assert!(of_kind(&findings, FindingKind::UnindexedRelation).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_index_no_recorded_read_uses_is_flagged_unused() {
    let app = spawn_app(&TASKS.replace(
        "indexes = [[\"status\", \"created_at\", \"id\"]]",
        "indexes = [[\"status\", \"created_at\", \"id\"], [\"title\"]]",
    ))
    .await;
    let findings = advise(&app, &[status_page()]).await;
    let unused: Vec<&str> = of_kind(&findings, FindingKind::UnusedIndex)
        .iter()
        .filter_map(|f| f.evidence["index"].as_str())
        .collect();
    assert!(unused.contains(&"idx_tasks__title"), "{findings:#?}");
    if !on_postgres() {
        // SQLite judges by the recorded shapes' plans: the status page reads its index.
        assert_eq!(unused, ["idx_tasks__title"], "{findings:#?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_scoped_page_gets_its_index_after_the_tenant_column() {
    let schema = TASKS.replace(
        "[collections.tasks]\n",
        "[collections.tasks]\ntenant_scoped = true\n",
    );
    let app = seeded_in(&schema, &["acme", "globex"]).await;
    enable_hypopg(&app).await;
    as_admin(&app, "ANALYZE tasks;").await;
    let mut report = team_page();
    report.shape.tenant_scoped = true;
    let findings = advise(&app, &[report]).await;
    let missing = of_kind(&findings, FindingKind::MissingIndex);
    assert_eq!(missing.len(), 1, "{findings:#?}");
    // The schema file declares the index without the tenant column; the store puts it first.
    assert_eq!(
        missing[0].change.schema_patch.as_deref(),
        Some("[collections.tasks]\nindexes = [[\"team\", \"created_at\", \"id\"]]\n")
    );
    assert_eq!(
        missing[0].evidence["index"],
        "idx_tasks__tenant__team__created_at__id"
    );
    assert!(
        missing[0].change.sql[0].contains("(\"tenant\", \"team\""),
        "{:?}",
        missing[0].change.sql
    );
    app.stop().await;
}

/// The list benchmark's second page (docs/BENCHMARKS.md): `team = ? && priority >= ?` over the
/// indexes `(status, created_at)` and `(team, priority)`.
fn priority_page(id_descending: bool) -> ShapeReport {
    super::support::frequent(super::support::list_shape(
        "team = ? && priority >= ?",
        &[("team", "="), ("priority", ">=")],
        &[("priority", true), ("id", id_descending)],
    ))
}

#[tokio::test]
async fn the_benchmark_page_gets_an_index_in_its_own_order() {
    let declared = "indexes = [[\"status\", \"created_at\"], [\"team\", \"priority\"]]";
    let app =
        seeded(&TASKS.replace("indexes = [[\"status\", \"created_at\", \"id\"]]", declared)).await;
    enable_hypopg(&app).await;
    as_admin(&app, "ANALYZE tasks;").await;
    // `sort=-priority` ends with `id` ascending: no index of ascending keys reads that order
    // (read backwards, `(team, priority, id)` gives `id` descending), one keeping `priority`
    // descending does, on both databases.
    let findings = advise(&app, &[priority_page(false)]).await;
    let missing = of_kind(&findings, FindingKind::MissingIndex);
    assert_eq!(missing.len(), 1, "{findings:#?}");
    assert_eq!(
        missing[0].evidence["index"],
        "idx_tasks__team__priority_desc__id"
    );
    assert_eq!(
        missing[0].change.schema_patch.as_deref(),
        Some("[collections.tasks]\nindexes = [[\"team\", \"-priority\", \"id\"]]\n")
    );
    assert_eq!(missing[0].evidence["after"]["full_scan"], false);
    // `sort=-priority,-id` runs one way. SQLite's `(team, priority)` orders ties by rowid, so
    // `(team, priority, id)` removes the sort; PostgreSQL's already ends with `id`.
    let findings = advise(&app, &[priority_page(true)]).await;
    let missing: Vec<&str> = of_kind(&findings, FindingKind::MissingIndex)
        .iter()
        .filter_map(|f| f.evidence["index"].as_str())
        .collect();
    if on_postgres() {
        assert!(missing.is_empty(), "{findings:#?}");
    } else {
        assert_eq!(missing, ["idx_tasks__team__priority__id"], "{findings:#?}");
    }
    // The advised index declared and migrated, the page gets no more advice: the migration
    // built it in the page's order.
    let app = app
        .restart(&TASKS.replace(
            "indexes = [[\"status\", \"created_at\", \"id\"]]",
            "indexes = [[\"status\", \"created_at\"], [\"team\", \"priority\"], [\"team\", \"-priority\", \"id\"]]",
        ))
        .await;
    as_admin(&app, "ANALYZE tasks;").await;
    let findings = advise(&app, &[priority_page(false)]).await;
    assert!(
        of_kind(&findings, FindingKind::MissingIndex).is_empty(),
        "{findings:#?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_frequent_count_gets_the_index_of_its_filter() {
    let app = seeded(TASKS).await;
    enable_hypopg(&app).await;
    as_admin(&app, "ANALYZE tasks;").await;
    let mut shape = super::support::list_shape("team = ?", &[("team", "=")], &[]);
    shape.kind = fathom_store::shapes::ShapeKind::Count;
    shape.page_size = None;
    let findings = advise(&app, &[super::support::frequent(shape)]).await;
    let missing = of_kind(&findings, FindingKind::MissingIndex);
    assert_eq!(missing.len(), 1, "{findings:#?}");
    assert_eq!(missing[0].evidence["index"], "idx_tasks__team");
    assert_eq!(missing[0].evidence["after"]["full_scan"], false);
    app.stop().await;
}
