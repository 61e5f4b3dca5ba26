//! `/health` and `/ready`: a server whose database does not hold its schema yet is alive but not
//! ready, answers the records API with 503 `not_ready`, and becomes ready by itself once
//! `fathom migrate apply` runs from another process.

use serde_json::json;

use super::support::{Http, Project, stop};

const NOTES: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.rank  = { type = "integer", min = 0 }
indexes = [["rank"], ["title"]]
"#;

/// [`NOTES`] with its fields and indexes in another order: the same database schema.
const NOTES_REORDERED: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.rank  = { type = "integer", min = 0 }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
indexes = [["title"], ["rank"]]
"#;

#[tokio::test]
async fn without_auto_migrate_the_server_is_not_ready_until_migrate_apply_runs_elsewhere() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve_with_env(&[], &[("FATHOM_DATABASE__AUTO_MIGRATE", "false")]);
    let http = Http::new(&server);

    assert_eq!(http.get("/health").await, (200, json!({"status": "ok"})));
    assert_eq!(
        http.get("/ready").await,
        (
            503,
            json!({"status": "not_ready", "checks": {"database": true, "migrations": false}})
        )
    );
    for (status, problem) in [
        http.get("/api/v1/notes").await,
        http.post("/api/v1/notes", &json!({"title": "too early"}))
            .await,
        http.get("/api/v1/x").await,
    ] {
        assert_eq!(status, 503, "{problem}");
        assert_eq!(problem["code"], "not_ready", "{problem}");
        assert_eq!(problem["status"], 503, "{problem}");
        assert!(
            problem["hint"]
                .as_str()
                .unwrap_or("")
                .contains("fathom migrate apply"),
            "{problem}"
        );
    }
    // The server did not migrate on its own.
    let status = project.cli(&["migrate", "status"]);
    assert!(
        status
            .stdout
            .starts_with("No migration has been applied yet."),
        "{}",
        status.stdout
    );

    // Another process migrates the same database; the running server notices without a restart.
    project.cli(&["migrate", "apply"]).expect_code(0);
    assert_eq!(
        http.get("/ready").await,
        (
            200,
            json!({"status": "ready", "checks": {"database": true, "migrations": true}})
        )
    );
    let note = http
        .create("notes", &json!({"title": "now it works", "rank": 1}))
        .await;
    assert_eq!(
        http.record("notes", &note["id"]).await["title"],
        "now it works"
    );
    assert_eq!(http.list("notes").await.len(), 1);
    assert_eq!(http.get("/health").await, (200, json!({"status": "ok"})));
    assert!(stop(&mut server).success());
}

#[tokio::test]
async fn with_auto_migrate_a_fresh_server_is_ready_at_once() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    assert_eq!(http.get("/ready").await.0, 200);
    assert_eq!(http.get("/health").await.0, 200);
    assert!(stop(&mut server).success());
}

/// Reordering fields or indexes changes nothing in the database, so `migrate` has nothing to do;
/// the server must then count the database as migrated, or nothing can ever make it ready.
#[tokio::test]
async fn reordering_fields_and_indexes_keeps_the_server_ready() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let note = Http::new(&server)
        .create("notes", &json!({"title": "kept", "rank": 2}))
        .await;
    assert!(stop(&mut server).success());

    project.write("fathom.schema.toml", NOTES_REORDERED);
    let plan = project.cli(&["migrate", "plan"]);
    assert_eq!(
        plan.stdout,
        "The database matches the schema file (version 1); nothing to migrate.\n"
    );
    let status = project.cli(&["migrate", "status"]);
    assert!(
        status
            .stdout
            .ends_with("The schema file is applied: nothing pending.\n"),
        "{}",
        status.stdout
    );

    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let ready = http.get("/ready").await;
    let read = http
        .get(&format!(
            "/api/v1/notes/{}",
            note["id"].as_str().expect("id")
        ))
        .await;
    assert!(stop(&mut server).success());
    assert_eq!(
        ready,
        (
            200,
            json!({"status": "ready", "checks": {"database": true, "migrations": true}})
        ),
        "the database holds this schema (migrate plan says nothing to migrate), so the server must be ready"
    );
    assert_eq!(read.0, 200, "{}", read.1);
}

const AUTHORS: &str = r#"
[collections.authors]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.name = { type = "text", required = true }
fields.bio  = { type = "text" }
"#;

const AUTHORS_WITHOUT_BIO: &str = r#"
[collections.authors]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.name = { type = "text", required = true }
"#;

/// Another process migrates the database to a schema this server does not serve (here: drops a
/// column it still reads). The server must stop claiming readiness rather than serve a table whose
/// shape it no longer knows, and must never make up values for the missing column.
#[tokio::test]
async fn a_migration_applied_under_a_running_server_does_not_go_unnoticed() {
    let project = Project::new();
    project.write("fathom.schema.toml", AUTHORS);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let author = http
        .create("authors", &json!({"name": "Ursula", "bio": "wrote books"}))
        .await;
    assert_eq!(http.get("/ready").await.0, 200);

    project.write("v2.toml", AUTHORS_WITHOUT_BIO);
    project
        .cli(&[
            "migrate",
            "apply",
            "--schema",
            "v2.toml",
            "--allow-destructive",
        ])
        .expect_code(0);

    let ready = http.get("/ready").await;
    let read = http
        .get(&format!(
            "/api/v1/authors/{}",
            author["id"].as_str().expect("id")
        ))
        .await;
    assert!(stop(&mut server).success());
    assert_ne!(
        read.1["data"]["bio"], "bio",
        "the server answered the dropped column with its own name as the value (SQLite treats the unknown \
         \"bio\" identifier as a string literal): {}",
        read.1
    );
    assert_eq!(
        ready.0, 503,
        "the applied schema is no longer the one this server serves: {}",
        ready.1
    );
    assert_eq!(
        (read.0, read.1["code"].as_str()),
        (503, Some("not_ready")),
        "{}",
        read.1
    );
}
