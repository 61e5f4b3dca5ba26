//! `/health` and `/ready`: a server whose database does not hold its schema yet is alive but not
//! ready, answers the records API with 503 `not_ready`, and becomes ready by itself once
//! `fathom migrate apply` runs from another process; when that migration changed the schema, it
//! then serves the schema the database was brought to.

use serde_json::{Value, json};

use super::support::{Http, Project, eventually, stop};

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
    project.assert_nothing_pending();

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
/// column it still reads). Until the server serves the new schema it must not claim readiness nor
/// serve a table whose shape it no longer knows, and it must never make up values for the missing
/// column; within a few seconds it serves the applied schema by itself.
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

    let path = format!("/api/v1/authors/{}", author["id"].as_str().expect("id"));
    let ready = http.get("/ready").await;
    let read = http.get(&path).await;
    let followed = eventually(|| async { http.get("/ready").await.0 == 200 }).await;
    let after = http.get(&path).await;
    assert!(stop(&mut server).success());
    assert_ne!(
        read.1["data"]["bio"], "bio",
        "the server answered the dropped column with its own name as the value (SQLite treats the unknown \
         \"bio\" identifier as a string literal): {}",
        read.1
    );
    // Either it has not noticed yet and says so, or it already serves the applied schema.
    if ready.0 == 503 {
        assert_eq!(
            (read.0, read.1["code"].as_str()),
            (503, Some("not_ready")),
            "{}",
            read.1
        );
    } else {
        assert_eq!(ready.0, 200, "{}", ready.1);
        assert_eq!(read.1["data"].get("bio"), None, "{}", read.1);
    }
    assert!(followed, "the server never served the applied schema");
    assert_eq!(after.0, 200, "{}", after.1);
    assert_eq!(after.1["data"]["name"], "Ursula", "{}", after.1);
    assert_eq!(
        after.1["data"].get("bio"),
        None,
        "the dropped field is gone from the API: {}",
        after.1
    );
}

/// [`NOTES`] and a new field: an additive change.
const NOTES_WITH_PINNED: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title  = { type = "text", required = true }
fields.body   = { type = "text" }
fields.rank   = { type = "integer", min = 0 }
fields.pinned = { type = "boolean" }
indexes = [["rank"], ["title"]]
"#;

/// Issue 11 item 7: `fathom migrate apply` run with a changed schema file under a running server
/// left it answering 503 until restarted, although its hint says it becomes ready by itself. It
/// now serves the applied schema (records, validation and the OpenAPI document) within seconds.
#[tokio::test]
async fn a_running_server_serves_the_schema_migrate_apply_brought_the_database_to() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let old = http.create("notes", &json!({"title": "before"})).await;

    project.write("fathom.schema.toml", NOTES_WITH_PINNED);
    project.cli(&["migrate", "apply"]).expect_code(0);

    let pinned = json!({"title": "after", "pinned": true});
    let followed = eventually(|| async {
        http.get("/ready").await.0 == 200 && http.post("/api/v1/notes", &pinned).await.0 == 201
    })
    .await;
    let listed = http.list("notes").await;
    let old_now = http.record("notes", &old["id"]).await;
    let (_, openapi) = http.get("/api/v1/openapi.json").await;
    server.wait_for_log("schema reloaded", 1);
    let logged = server.logs_containing("schema reloaded");
    assert!(stop(&mut server).success());
    assert!(
        followed,
        "the server never served the applied schema without a restart"
    );
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0]["id"], old["id"]);
    assert_eq!(listed[0].get("pinned"), Some(&Value::Null), "{listed:?}");
    assert_eq!(old_now.get("pinned"), Some(&Value::Null), "{old_now}");
    assert_eq!(listed[1]["pinned"], true);
    assert!(
        openapi.to_string().contains("pinned"),
        "the OpenAPI document describes the served schema"
    );
    assert_eq!(logged.len(), 1, "one reload, logged: {logged:?}");
    assert_eq!(logged[0]["level"], "INFO", "{logged:?}");
}
