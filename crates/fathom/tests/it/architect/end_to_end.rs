//! The architect from end to end: reads made over HTTP are recorded as query shapes, and
//! `GET /api/v1/admin/advice` advises, verified against the database's plan, the index that
//! serves them.

use serde_json::Value;

use super::support::{RECORDS, TASKS, TEAMS, as_admin, enable_hypopg, seeded};
use crate::helpers::{TestApp, json_with_status};

/// `n` pages of one team's tasks above a priority, newest first, over HTTP.
async fn read_team_pages(app: &TestApp, n: usize) {
    for i in 0..n {
        let filter = format!("team = \"team-{}\" && priority > 1", i % TEAMS);
        let mut url = reqwest::Url::parse(&app.url("/api/v1/tasks")).expect("url");
        url.query_pairs_mut()
            .append_pair("filter", &filter)
            .append_pair("sort", "-created_at,-id")
            .append_pair("limit", "20");
        let response = app.client.get(url).send().await.expect("request sent");
        json_with_status(response, 200).await;
    }
}

#[tokio::test]
async fn pages_read_over_http_get_their_index_advised_at_the_admin_endpoint() {
    let app = seeded(TASKS).await;
    enable_hypopg(&app).await;
    as_admin(&app, "ANALYZE tasks;").await;
    read_team_pages(&app, 60).await;
    let advice = json_with_status(
        app.get("/api/v1/admin/advice?kind=missing_index").await,
        200,
    )
    .await;
    let findings = advice["data"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{advice:#}");
    let finding = &findings[0];
    assert_eq!(finding["collection"], "tasks");
    assert_eq!(
        finding["change"]["schema_patch"],
        "[collections.tasks]\nindexes = [[\"team\", \"created_at\", \"id\"]]\n"
    );
    let evidence = &finding["evidence"];
    assert_eq!(evidence["calls"], 60, "{evidence:#}");
    assert_eq!(evidence["rows"], RECORDS as u64);
    assert_eq!(evidence["before"]["full_scan"], true, "{evidence:#}");
    assert_eq!(evidence["after"]["full_scan"], false, "{evidence:#}");
    // The shape carries no value the clients sent.
    let text = advice.to_string();
    assert!(!text.contains("team-1"), "{text}");
    // Verified findings are held for a minute: more reads meanwhile do not start another
    // verification, and the answer says when the one shown ran.
    let checked_at = advice["meta"]["indexesCheckedAt"]
        .as_str()
        .unwrap_or_else(|| panic!("when the indexes were checked: {advice:#}"))
        .to_owned();
    read_team_pages(&app, 5).await;
    let again = json_with_status(
        app.get("/api/v1/admin/advice?kind=missing_index").await,
        200,
    )
    .await;
    assert_eq!(again["meta"]["indexesCheckedAt"], checked_at.as_str());
    assert_eq!(again["data"][0]["evidence"]["calls"], 60, "{again:#}");
    // The index declared and migrated, the same pages get no advice.
    let app = app
        .restart(&TASKS.replace(
            "indexes = [[\"status\", \"created_at\", \"id\"]]",
            "indexes = [[\"status\", \"created_at\", \"id\"], [\"team\", \"created_at\", \"id\"]]",
        ))
        .await;
    as_admin(&app, "ANALYZE tasks;").await;
    // The stopped server flushed its shapes (every read, the 5 made while the findings were
    // held too); the new one reads them back from the database.
    let shapes = app.store.query_shapes().await.expect("shapes");
    let page = shapes
        .iter()
        .find(|r| r.shape.collection == "tasks" && r.shape.filter == "team = ? && priority > ?")
        .unwrap_or_else(|| panic!("the page's shape was persisted: {shapes:#?}"));
    assert_eq!(page.stats.calls, 65);
    let advice: Value = json_with_status(
        app.get("/api/v1/admin/advice?kind=missing_index").await,
        200,
    )
    .await;
    assert_eq!(advice["data"], serde_json::json!([]), "{advice:#}");
    app.stop().await;
}
