//! The database going away under a running server, on a private cluster this test stops and
//! starts: while it is down, record requests answer 503 problem+json and `/ready` is false;
//! when it is back, service resumes without restarting the server. Also: a server pointed at a
//! database that does not exist refuses to start, saying what failed and how to fix it.

use std::time::{Duration, Instant};

use fathom_store::ScratchDatabase;
use serde_json::json;

use super::cluster::PrivateCluster;
use super::{OPEN_NOTES, pg_project};
use crate::operations::support::{Http, stop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_answers_503_and_service_resumes_when_it_returns() {
    let Some(project) = pg_project() else { return };
    let cluster = PrivateCluster::start();
    let database = ScratchDatabase::create(&cluster.admin_url())
        .await
        .expect("a database on the private cluster");
    project.write("fathom.schema.toml", OPEN_NOTES);
    // The project's own variable points at the shared cluster; this one (given later) wins.
    let mut server = project.serve_with_env(
        &[],
        &[
            ("FATHOM_DATABASE__URL", database.url()),
            ("FATHOM_DATABASE__BUSY_TIMEOUT_MS", "1000"),
        ],
    );
    let http = Http::new(&server);
    let note = http
        .create("notes", &json!({ "body": "before the outage" }))
        .await;
    assert_eq!(http.get("/ready").await.0, 200);

    cluster.stop();
    let (status, body) = http.get("/api/v1/notes").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("service_unavailable")),
        "{body}"
    );
    assert_eq!(body["status"], 503, "{body}");
    let (status, body) = http
        .post("/api/v1/notes", &json!({ "body": "during" }))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("service_unavailable")),
        "{body}"
    );
    let (status, ready) = http.get("/ready").await;
    assert_eq!(status, 503);
    assert_eq!(ready["checks"]["database"], false, "{ready}");
    // Still down a moment later, whatever the server cached.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, body) = http.get("/api/v1/notes").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("service_unavailable")),
        "{body}"
    );

    cluster.start_again();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = http.get("/api/v1/notes").await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service did not resume: last status {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(http.record("notes", &note["id"]).await, note);
    http.create("notes", &json!({ "body": "after the outage" }))
        .await;
    assert_eq!(http.get("/ready").await.0, 200);
    assert!(stop(&mut server).success());
    drop(database);
}

#[test]
fn a_missing_database_at_start_up_is_named_with_how_to_fix_it() {
    let Some(project) = pg_project() else { return };
    project.write("fathom.schema.toml", OPEN_NOTES);
    let url = project
        .database
        .as_ref()
        .map(|d| {
            d.url()
                .rsplit_once('/')
                .map(|(server, _)| format!("{server}/no_such_database"))
        })
        .and_then(|u| u)
        .expect("a PostgreSQL project");
    let run = project.cli_with_env(
        &["migrate", "status", "--schema", "fathom.schema.toml"],
        &[("FATHOM_DATABASE__URL", &url)],
    );
    assert_ne!(run.code, Some(0));
    assert!(
        run.stderr.contains("cannot open the PostgreSQL database"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("no_such_database"), "{}", run.stderr);
    assert!(run.stderr.contains("createdb"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("fathom_app:fathom_app"),
        "no password: {}",
        run.stderr
    );
}
