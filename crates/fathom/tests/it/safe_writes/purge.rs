//! `fathom purge --older-than AGE`: soft-deleted records past the age are removed for good
//! (every tenant), each with a `delete` event; live records and younger deletions stay; bad ages
//! are refused with a hint.

use serde_json::json;

use super::conditional::{SCHEMA, create};
use crate::helpers::{TestApp, fathom_bin, json_with_status, spawn_app};

fn purge(app: &TestApp, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(fathom_bin());
    command
        .arg("purge")
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .current_dir(app.data_dir.path())
        .env_remove("RUST_LOG");
    if let Some(database) = &app.database {
        command.env("FATHOM_DATABASE__URL", database.url());
    }
    command.output().expect("fathom runs")
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
