//! `fathom purge --older-than AGE`: soft-deleted records past the age are removed for good
//! (every tenant), each with a `delete` event; live records and younger deletions stay; bad ages
//! are refused with a hint.

use serde_json::json;

use super::conditional::{SCHEMA, create};
use crate::helpers::{TestApp, json_with_status, spawn_app};

fn purge(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.cli(&[&["purge"], args].concat())
}

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn purge_removes_old_deletions_for_good_with_their_events() {
    let app = spawn_app(SCHEMA).await;
    let (kept, _) = create(&app, "drafts", json!({"body": "live"})).await;
    let (old, _) = create(&app, "drafts", json!({"body": "old"})).await;
    assert_eq!(
        app.delete(&format!("/api/v1/drafts/{old}")).await.status(),
        204
    );

    // A day's age keeps a deletion made just now.
    let output = purge(&app, &["--older-than", "1d"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("drafts: 0 removed"), "{stdout}");
    let deleted = json_with_status(app.get("/api/v1/drafts?deleted=only").await, 200).await;
    assert_eq!(ids(&deleted), std::slice::from_ref(&old));

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let output = purge(&app, &["--older-than", "0s", "--collection", "drafts"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("drafts: 1 removed"), "{stdout}");
    let deleted = json_with_status(app.get("/api/v1/drafts?deleted=include").await, 200).await;
    assert_eq!(
        ids(&deleted),
        [kept],
        "the live record stays; the old one is gone"
    );
    // Nothing left to restore.
    let restore = app
        .post_json(&format!("/api/v1/drafts/{old}/restore"), &json!({}))
        .await;
    assert_eq!(restore.status(), 404);

    let events = json_with_status(app.get("/api/v1/events?after=0").await, 200).await;
    let operations: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["record_id"] == old.as_str())
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["create", "delete", "delete"], "{events}");
    app.stop().await;
}

#[tokio::test]
async fn purge_refuses_bad_ages_and_collections_without_soft_delete() {
    let app = spawn_app(SCHEMA).await;
    for (args, expected) in [
        (vec!["--older-than", "thirty"], "not an age"),
        (vec!["--older-than", "30"], "no unit"),
        (
            vec!["--older-than", "1d", "--collection", "notes"],
            "nothing to purge",
        ),
        (
            vec!["--older-than", "1d", "--collection", "nope"],
            "no collection named",
        ),
    ] {
        let output = purge(&app, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    app.stop().await;
}

/// Sets the deletion time of every soft-deleted draft to long ago, from outside the server.
async fn backdate_deleted_drafts(app: &TestApp) {
    const LONG_AGO: &str = "2020-01-01T00:00:00.000Z";
    let sql = format!(
        "UPDATE \"drafts\" SET \"deleted_at\" = '{LONG_AGO}' WHERE \"deleted_at\" IS NOT NULL"
    );
    if let Some(database) = &app.database {
        let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
            .await
            .expect("a second connection to the test database");
        tokio::spawn(connection);
        client.batch_execute(&sql).await.expect("backdated");
        return;
    }
    let path = app.data_dir.path().join("fathom.db");
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(path).expect("a second connection");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.execute_batch(&sql).expect("backdated");
    })
    .await
    .unwrap();
}

/// `[purge] older_than_days` purges on a schedule from start-up on: a deletion past the age
/// goes for good, a younger one and live records stay.
#[tokio::test]
async fn the_scheduled_purge_removes_deletions_past_its_age() {
    let app = spawn_app(SCHEMA).await;
    let (live, _) = create(&app, "drafts", json!({"body": "live"})).await;
    let (old, _) = create(&app, "drafts", json!({"body": "old"})).await;
    assert_eq!(
        app.delete(&format!("/api/v1/drafts/{old}")).await.status(),
        204
    );
    backdate_deleted_drafts(&app).await;
    let (young, _) = create(&app, "drafts", json!({"body": "young"})).await;
    assert_eq!(
        app.delete(&format!("/api/v1/drafts/{young}"))
            .await
            .status(),
        204
    );

    let app = app
        .restart_with(SCHEMA, |config| {
            config.purge.older_than_days = 30;
            config.purge.every_minutes = 60;
        })
        .await;
    let mut deleted = Vec::new();
    for _ in 0..100 {
        let page = json_with_status(app.get("/api/v1/drafts?deleted=only").await, 200).await;
        deleted = ids(&page);
        if deleted == std::slice::from_ref(&young) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        deleted,
        std::slice::from_ref(&young),
        "only the deletion past 30 days went"
    );
    let page = json_with_status(app.get("/api/v1/drafts").await, 200).await;
    assert_eq!(ids(&page), [live]);
    app.stop().await;
}
