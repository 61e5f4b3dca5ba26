//! `renamed_from`: a rename keeps the records and their values on both databases, moves the
//! indexes and constraints along (later migrations still find them), is flagged as breaking
//! API clients, and plans nothing once applied even though the key stays in the file.

use serde_json::json;

use super::super::support::{Http, Project, stop};
use super::{applied_versions, notes_with_records};

const NOTES: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title  = { type = "text", required = true }
fields.body   = { type = "text" }
fields.code   = { type = "text", unique = true }
fields.status = { type = "enum", values = ["draft", "done"] }
fields.parent = { type = "relation", collection = "notes" }
"#;

/// `notes` is now `memos`, and `body` is now `summary`.
const MEMOS: &str = r#"
[collections.memos]
renamed_from = "notes"
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title   = { type = "text", required = true }
fields.summary = { type = "text", renamed_from = "body" }
fields.code    = { type = "text", unique = true }
fields.status  = { type = "enum", values = ["draft", "done"] }
fields.parent  = { type = "relation", collection = "memos" }
"#;

/// After the rename: `code` is no longer unique and `status` gains a value, which need the
/// renamed index and CHECK to be found under their new names; and in the same migration
/// `title` becomes `heading` while `summary` is dropped (on SQLite, a table rebuild after the
/// rename).
const MEMOS_LATER: &str = r#"
[collections.memos]
renamed_from = "notes"
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.heading = { type = "text", required = true, renamed_from = "title" }
fields.code    = { type = "text" }
fields.status  = { type = "enum", values = ["draft", "done", "archived"] }
fields.parent  = { type = "relation", collection = "memos" }
"#;

#[tokio::test]
async fn a_declared_rename_keeps_the_records_and_their_values() {
    let project = Project::new();
    let created = notes_with_records(
        &project,
        NOTES,
        &[json!({"title": "first", "body": "kept", "code": "A-1", "status": "draft"})],
    )
    .await;
    let first = &created[0];
    {
        // A child pointing at the first note, to see the relation survive the rename.
        let mut server = project.serve(&["--schema", "v1.toml"]);
        Http::new(&server)
            .create("notes", &json!({"title": "child", "parent": first["id"]}))
            .await;
        assert!(stop(&mut server).success());
    }

    project.write("v2.toml", MEMOS);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    let text = &plan.stdout;
    for expected in [
        "rename collection `notes` to `memos`, keeping its records  [UNSAFE]",
        "unsafe: breaks API clients: the records stay, but under `/api/v1/memos` instead of `/api/v1/notes`",
        "ALTER TABLE \"notes\" RENAME TO \"memos\";",
        "rename field `memos.body` to `summary`, keeping its values  [UNSAFE]",
        "ALTER TABLE \"memos\" RENAME COLUMN \"body\" TO \"summary\";",
        "rename index `uq_notes__code` on `memos` to `uq_memos__code`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("DROP TABLE \"notes\""), "{text}");
    assert_snapshot!("rename_plan", text);
    assert!(!text.contains("drop field"), "{text}");

    // A rename breaks clients, so it waits for the flag like any unsafe step.
    project.migrate("apply", "v2.toml", &[]).expect_code(2);
    project
        .migrate("apply", "v2.toml", &["--allow-destructive"])
        .expect_code(0);
    // Applied: the key can stay in the file, and nothing is left to do.
    let again = project.migrate("plan", "v2.toml", &[]);
    assert_eq!(
        again.stdout,
        "The database matches the schema file (version 2); nothing to migrate.\n"
    );
    assert_eq!(
        applied_versions(&project.migrate("status", "v2.toml", &[])),
        [1, 2]
    );
    let snapshot = latest_snapshot(&project).await;
    assert!(snapshot.collection("memos").is_some() && snapshot.collection("notes").is_none());
    let memos = snapshot.collection("memos").expect("memos");
    assert!(memos.field("summary").is_some() && memos.field("body").is_none());

    let mut server = project.serve(&["--schema", "v2.toml"]);
    let http = Http::new(&server);
    let (ready, body) = http.get("/ready").await;
    assert_eq!(ready, 200, "the applied schema is the served one: {body}");
    let memo = http.record("memos", &first["id"]).await;
    assert_eq!(memo["summary"], "kept", "{memo}");
    for kept in [
        "title",
        "code",
        "status",
        "created_at",
        "updated_at",
        "version",
    ] {
        assert_eq!(memo[kept], first[kept], "`{kept}` survives the rename");
    }
    assert_eq!(http.list("memos").await.len(), 2);
    // The unique index and the foreign key still hold under the new names.
    let (status, problem) = http
        .post("/api/v1/memos", &json!({"title": "dup", "code": "A-1"}))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("unique_violation")),
        "{problem}"
    );
    let (status, problem) = http
        .post(
            "/api/v1/memos",
            &json!({"title": "orphan", "parent": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("relation_violation")),
        "{problem}"
    );
    assert!(stop(&mut server).success());

    // Later migrations find the renamed index and CHECK: dropping `unique` really drops the
    // index, and the new enum value is really accepted.
    project.write("v3.toml", MEMOS_LATER);
    project
        .migrate("apply", "v3.toml", &["--allow-destructive"])
        .expect_code(0);
    let mut server = project.serve(&["--schema", "v3.toml"]);
    let http = Http::new(&server);
    http.create(
        "memos",
        &json!({"heading": "same code", "code": "A-1", "status": "archived"}),
    )
    .await;
    let memo = http.record("memos", &first["id"]).await;
    assert_eq!(memo["heading"], "first", "{memo}");
    assert_eq!(memo.get("summary"), None, "{memo}");
    assert!(stop(&mut server).success());
}

/// The schema of the latest applied version, as the database records it.
async fn latest_snapshot(project: &Project) -> fathom_schema::Schema {
    let config = crate::helpers::test_config_on(
        &project.path().join("fathom_data"),
        project.database.as_ref(),
    );
    let store = fathom::app::open_store(&config, "fathom.db")
        .await
        .expect("store opens");
    let history = store.history().await.expect("history");
    history.last().expect("a version").schema.clone()
}
