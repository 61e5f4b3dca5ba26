//! `fathom migrate plan|apply|status` against a real database file: the exact SQL of each plan,
//! additive changes applying without a flag, unsafe ones refused without `--allow-destructive`,
//! and a failing migration leaving the database exactly as it was.

/// Plans show each database's own SQL, so PostgreSQL runs compare with `<name>@postgres.snap`.
macro_rules! assert_snapshot {
    ($name:expr, $value:expr) => {{
        let mut settings = insta::Settings::clone_current();
        if crate::helpers::on_postgres() {
            settings.set_snapshot_suffix("postgres");
        }
        settings.bind(|| insta::assert_snapshot!($name, $value));
    }};
}
// After the macro, so that they can use it.
mod renames;
mod review;
mod schema_errors;
mod unique_values;

use serde_json::json;

use super::support::{CliRun, Http, Project, stop};

const LIBRARY: &str = r#"
[collections.authors]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.name = { type = "text", required = true, unique = true }

[collections.books]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title  = { type = "text", required = true }
fields.pages  = { type = "integer", min = 1 }
fields.author = { type = "relation", collection = "authors" }
"#;

/// [`LIBRARY`] plus an optional field and an index: an additive change.
const LIBRARY_WITH_ISBN: &str = r#"
[collections.authors]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.name = { type = "text", required = true, unique = true }

[collections.books]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title  = { type = "text", required = true }
fields.pages  = { type = "integer", min = 1 }
fields.author = { type = "relation", collection = "authors" }
fields.isbn   = { type = "text", max_length = 17 }
indexes = [["title"]]
"#;

const NOTES: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "text" }
"#;

const NOTES_WITHOUT_BODY: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.code  = { type = "text" }
"#;

const NOTES_WITH_INTEGER_CODE: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "integer" }
"#;

const NOTES_WITH_REQUIRED_PRIORITY: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title    = { type = "text", required = true }
fields.body     = { type = "text" }
fields.code     = { type = "text" }
fields.priority = { type = "integer", required = true }
"#;

const NOTES_WITH_DEFAULT_PRIORITY: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title    = { type = "text", required = true }
fields.body     = { type = "text" }
fields.code     = { type = "text" }
fields.priority = { type = "integer", required = true, default = 3 }
"#;

/// The versions `migrate status` lists, in order.
fn applied_versions(status: &CliRun) -> Vec<i64> {
    status
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("version"))
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .expect("a version number")
                .parse()
                .expect("a number")
        })
        .collect()
}

/// The last line of `migrate status`: whether anything is pending.
fn pending_line(status: &CliRun) -> &str {
    status
        .stdout
        .lines()
        .last()
        .expect("status prints something")
}

/// Applies `schema` through a server process (auto-migrate) and creates `notes` records there.
async fn notes_with_records(
    project: &Project,
    schema: &str,
    records: &[serde_json::Value],
) -> Vec<serde_json::Value> {
    project.write("v1.toml", schema);
    let mut server = project.serve(&["--schema", "v1.toml"]);
    let http = Http::new(&server);
    let mut created = Vec::new();
    for record in records {
        created.push(http.create("notes", record).await);
    }
    assert!(stop(&mut server).success());
    created
}

#[test]
fn plan_apply_and_status_on_an_empty_database() {
    let project = Project::new();
    project.write("library.toml", LIBRARY);

    let status = project.migrate("status", "library.toml", &[]);
    status.expect_code(0);
    assert_eq!(
        status.stdout,
        "No migration has been applied yet.\n2 pending step(s); run `fathom migrate plan` to see them.\n"
    );

    let plan = project.migrate("plan", "library.toml", &[]);
    plan.expect_code(0);
    assert_snapshot!("empty_database_plan", plan.stdout);

    let apply = project.migrate("apply", "library.toml", &[]);
    apply.expect_code(0);
    assert_eq!(
        apply.stdout,
        format!(
            "{}\nApplied: the database is now at version 1.\n",
            plan.stdout
        )
    );
    // Database files exist on SQLite only; on PostgreSQL the data lives in the server.
    if project.database.is_none() {
        assert!(
            project.path().join("fathom_data/fathom.db").is_file(),
            "the database lives in <data-dir>/fathom.db"
        );
    }

    let status = project.migrate("status", "library.toml", &[]);
    status.expect_code(0);
    assert_eq!(applied_versions(&status), [1]);
    // PostgreSQL adds the foreign key as a statement of its own.
    let statements = if project.database.is_some() { 5 } else { 4 };
    assert!(
        status
            .stdout
            .contains(&format!("{statements} statement(s), 2 collection(s)")),
        "{}",
        status.stdout
    );
    assert_eq!(
        pending_line(&status),
        "The schema file is applied: nothing pending."
    );

    // Applying again is a no-op that says so.
    let again = project.migrate("apply", "library.toml", &[]);
    again.expect_code(0);
    assert_eq!(
        again.stdout,
        "The database matches the schema file (version 1); nothing to migrate.\n"
    );
    assert_eq!(
        applied_versions(&project.migrate("status", "library.toml", &[])),
        [1]
    );
}

#[test]
fn data_dir_flag_picks_the_database_directory() {
    let project = Project::new();
    if project.database.is_some() {
        // SQLite only: `--data-dir` places the database file; PostgreSQL has none.
        return;
    }
    project.write("library.toml", LIBRARY);
    project
        .migrate("apply", "library.toml", &["--data-dir", "elsewhere"])
        .expect_code(0);
    assert!(project.path().join("elsewhere/fathom.db").is_file());
    assert!(
        !project.path().join("fathom_data").exists(),
        "the default data dir must stay untouched"
    );
    let status = project.migrate("status", "library.toml", &["--data-dir", "elsewhere"]);
    assert_eq!(applied_versions(&status), [1]);
}

#[tokio::test]
async fn an_added_optional_field_and_index_apply_without_the_flag() {
    let project = Project::new();
    project.write("v1.toml", LIBRARY);
    project.migrate("apply", "v1.toml", &[]).expect_code(0);

    project.write("v2.toml", LIBRARY_WITH_ISBN);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    assert!(!plan.stdout.contains("UNSAFE"), "{}", plan.stdout);
    assert_snapshot!("additive_plan", plan.stdout);

    let status = project.migrate("status", "v2.toml", &[]);
    assert_eq!(
        pending_line(&status),
        "2 pending step(s); run `fathom migrate plan` to see them."
    );

    let apply = project.migrate("apply", "v2.toml", &[]);
    apply.expect_code(0);
    assert!(
        apply
            .stdout
            .ends_with("Applied: the database is now at version 2.\n"),
        "{}",
        apply.stdout
    );
    let status = project.migrate("status", "v2.toml", &[]);
    assert_eq!(applied_versions(&status), [1, 2]);
    assert_eq!(
        pending_line(&status),
        "The schema file is applied: nothing pending."
    );

    // The new column is usable through the API.
    let mut server = project.serve(&["--schema", "v2.toml"]);
    let http = Http::new(&server);
    let book = http
        .create("books", &json!({"title": "Dune", "isbn": "978-0441172719"}))
        .await;
    assert_eq!(
        http.record("books", &book["id"]).await["isbn"],
        "978-0441172719"
    );
    assert!(stop(&mut server).success());
}

#[tokio::test]
async fn dropping_a_field_is_refused_without_the_flag_and_keeps_other_data_with_it() {
    let project = Project::new();
    let created = notes_with_records(
        &project,
        NOTES,
        &[
            json!({"title": "first", "body": "to be dropped", "code": "A-1"}),
            json!({"title": "second", "body": "also dropped", "code": "B-2"}),
        ],
    )
    .await;

    project.write("v2.toml", NOTES_WITHOUT_BODY);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("[UNSAFE]"), "{}", plan.stdout);
    assert_snapshot!("drop_field_plan", plan.stdout);

    let refused = project.migrate("apply", "v2.toml", &[]);
    refused.expect_code(2);
    assert_eq!(
        refused.stdout, plan.stdout,
        "a refused apply shows the plan it refused"
    );
    assert!(
        refused
            .stderr
            .contains("refusing to apply unsafe steps; nothing was changed"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-destructive"),
        "{}",
        refused.stderr
    );

    let status = project.migrate("status", "v2.toml", &[]);
    assert_eq!(applied_versions(&status), [1]);
    assert_eq!(
        pending_line(&status),
        "1 pending step(s), some unsafe; run `fathom migrate plan` to see them."
    );

    // The column and its values are still there: the old schema still serves them.
    let mut server = project.serve(&["--schema", "v1.toml"]);
    let http = Http::new(&server);
    assert_eq!(
        http.record("notes", &created[0]["id"]).await["body"],
        "to be dropped"
    );
    assert!(stop(&mut server).success());

    let applied = project.migrate("apply", "v2.toml", &["--allow-destructive"]);
    applied.expect_code(0);
    assert!(
        applied
            .stdout
            .ends_with("Applied: the database is now at version 2.\n"),
        "{}",
        applied.stdout
    );
    assert_eq!(
        applied_versions(&project.migrate("status", "v2.toml", &[])),
        [1, 2]
    );

    let mut server = project.serve(&["--schema", "v2.toml"]);
    let http = Http::new(&server);
    let records = http.list("notes").await;
    assert_eq!(records.len(), 2);
    for before in &created {
        let after = http.record("notes", &before["id"]).await;
        assert_eq!(
            after.get("body"),
            None,
            "the dropped field is gone: {after}"
        );
        for kept in ["title", "code", "created_at", "updated_at", "version"] {
            assert_eq!(
                after[kept], before[kept],
                "`{kept}` survives the table rebuild"
            );
        }
    }
    assert!(stop(&mut server).success());
}

#[tokio::test]
async fn a_type_change_that_cannot_convert_fails_and_changes_nothing() {
    let project = Project::new();
    let created = notes_with_records(
        &project,
        NOTES,
        &[
            json!({"title": "not a number", "code": "abc"}),
            json!({"title": "a number", "code": "12"}),
        ],
    )
    .await;

    project.write("v2.toml", NOTES_WITH_INTEGER_CODE);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    assert_snapshot!("type_change_plan", plan.stdout);

    let failed = project.migrate("apply", "v2.toml", &["--allow-destructive"]);
    assert_ne!(
        failed.code,
        Some(0),
        "the copy of `abc` into an INTEGER column must fail: {failed:?}"
    );
    assert!(
        failed
            .stderr
            .contains("the migration failed and was rolled back; nothing was changed"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stdout.contains("Applied"), "{}", failed.stdout);

    let status = project.migrate("status", "v2.toml", &[]);
    assert_eq!(
        applied_versions(&status),
        [1],
        "a failed migration records no version"
    );
    assert_eq!(
        pending_line(&status),
        "1 pending step(s), some unsafe; run `fathom migrate plan` to see them."
    );

    // The records are intact under the old schema; fix the offending value there.
    let mut server = project.serve(&["--schema", "v1.toml"]);
    let http = Http::new(&server);
    let records = http.list("notes").await;
    assert_eq!(records.len(), 2);
    assert_eq!(http.record("notes", &created[0]["id"]).await, created[0]);
    assert_eq!(http.record("notes", &created[1]["id"]).await, created[1]);
    let id = created[0]["id"].as_str().expect("id");
    let (status_code, body) = http
        .patch(&format!("/api/v1/notes/{id}"), &json!({"code": "7"}))
        .await;
    assert_eq!(status_code, 200, "{body}");
    assert!(stop(&mut server).success());

    // The failed attempt left nothing behind (no half-built scratch table): the retry applies.
    project
        .migrate("apply", "v2.toml", &["--allow-destructive"])
        .expect_code(0);
    let mut server = project.serve(&["--schema", "v2.toml"]);
    let http = Http::new(&server);
    assert_eq!(http.record("notes", &created[0]["id"]).await["code"], 7);
    assert_eq!(http.record("notes", &created[1]["id"]).await["code"], 12);
    assert!(stop(&mut server).success());
}

#[tokio::test]
async fn a_required_field_without_default_on_a_non_empty_table_is_unsafe_with_a_hint() {
    let project = Project::new();
    let created = notes_with_records(&project, NOTES, &[json!({"title": "exists"})]).await;

    project.write("v2.toml", NOTES_WITH_REQUIRED_PRIORITY);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("[UNSAFE]"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("give the field a default or make it optional"),
        "{}",
        plan.stdout
    );
    assert_snapshot!("required_field_plan", plan.stdout);

    project.migrate("apply", "v2.toml", &[]).expect_code(2);
    // Even when allowed, the step cannot succeed on existing records, and rolls back.
    let failed = project.migrate("apply", "v2.toml", &["--allow-destructive"]);
    assert_ne!(failed.code, Some(0), "{failed:?}");
    assert!(failed.stderr.contains("rolled back"), "{}", failed.stderr);
    assert_eq!(
        applied_versions(&project.migrate("status", "v2.toml", &[])),
        [1]
    );

    // Following the hint makes it additive.
    project.write("v3.toml", NOTES_WITH_DEFAULT_PRIORITY);
    let plan = project.migrate("plan", "v3.toml", &[]);
    assert!(!plan.stdout.contains("UNSAFE"), "{}", plan.stdout);
    project.migrate("apply", "v3.toml", &[]).expect_code(0);
    let mut server = project.serve(&["--schema", "v3.toml"]);
    let http = Http::new(&server);
    assert_eq!(http.record("notes", &created[0]["id"]).await["priority"], 3);
    assert!(stop(&mut server).success());
}

#[test]
fn a_required_field_without_default_on_an_empty_table_is_safe() {
    let project = Project::new();
    project.write("v1.toml", NOTES);
    project.migrate("apply", "v1.toml", &[]).expect_code(0);
    project.write("v2.toml", NOTES_WITH_REQUIRED_PRIORITY);
    let plan = project.migrate("plan", "v2.toml", &[]);
    assert!(!plan.stdout.contains("UNSAFE"), "{}", plan.stdout);
    project.migrate("apply", "v2.toml", &[]).expect_code(0);
    assert_eq!(
        applied_versions(&project.migrate("status", "v2.toml", &[])),
        [1, 2]
    );
}

#[test]
fn an_invalid_schema_file_is_reported_before_touching_the_database() {
    let project = Project::new();
    project.write(
        "broken.toml",
        "[collections.notes]\nfields.title = { type = \"txet\" }\n",
    );
    for action in ["plan", "apply", "status"] {
        let run = project.migrate(action, "broken.toml", &[]);
        run.expect_code(1);
        assert!(
            run.stderr.contains("broken.toml:2:"),
            "{action}: {}",
            run.stderr
        );
    }
    assert!(
        !project.path().join("fathom_data").exists(),
        "nothing is created for an invalid schema"
    );
}

const LIBRARY_WITH_AUTHOR_BIO: &str = r#"
[collections.authors]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.name = { type = "text", required = true, unique = true }
fields.bio  = { type = "text" }

[collections.books]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title  = { type = "text", required = true }
fields.pages  = { type = "integer", min = 1 }
fields.author = { type = "relation", collection = "authors" }
"#;

/// Deletes a record through the API; returns the status and the JSON body.
async fn delete(
    server: &crate::helpers::ServerProcess,
    collection: &str,
    id: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let id = id.as_str().expect("id");
    let response = crate::helpers::client_builder()
        .build()
        .unwrap()
        .delete(server.url(&format!("/api/v1/{collection}/{id}")))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Rebuilding a collection other records point at must keep those references valid and enforced.
#[tokio::test]
async fn rebuilding_a_referenced_collection_keeps_its_relations() {
    let project = Project::new();
    project.write("v1.toml", LIBRARY_WITH_AUTHOR_BIO);
    let mut server = project.serve(&["--schema", "v1.toml"]);
    let http = Http::new(&server);
    let author = http
        .create("authors", &json!({"name": "Le Guin", "bio": "wrote books"}))
        .await;
    let book = http
        .create(
            "books",
            &json!({"title": "The Dispossessed", "author": author["id"]}),
        )
        .await;
    assert!(stop(&mut server).success());

    // Dropping `authors.bio` rebuilds `authors`, which `books.author` refers to.
    project.write("v2.toml", LIBRARY);
    project
        .migrate("apply", "v2.toml", &["--allow-destructive"])
        .expect_code(0);

    let mut server = project.serve(&["--schema", "v2.toml"]);
    let http = Http::new(&server);
    assert_eq!(
        http.record("books", &book["id"]).await["author"],
        author["id"]
    );
    // The restriction still holds: the author cannot go while a book points at it.
    let (status, body) = delete(&server, "authors", &author["id"]).await;
    assert!(status >= 400, "the delete must be refused: {status} {body}");
    assert_eq!(
        http.record("authors", &author["id"]).await["name"],
        "Le Guin"
    );
    let (status, problem) = http
        .post(
            "/api/v1/books",
            &json!({"title": "Orphan", "author": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("relation_violation")),
        "{problem}"
    );
    assert!(stop(&mut server).success());
}

/// The refusal above must be the documented 409 `relation_violation`, not a 500. SQLite reports
/// a violated `ON DELETE RESTRICT` as SQLITE_CONSTRAINT_TRIGGER, not SQLITE_CONSTRAINT_FOREIGNKEY.
#[tokio::test]
async fn deleting_a_referenced_record_is_a_relation_violation() {
    let project = Project::new();
    project.write("library.toml", LIBRARY);
    let mut server = project.serve(&["--schema", "library.toml"]);
    let http = Http::new(&server);
    let author = http.create("authors", &json!({"name": "Le Guin"})).await;
    http.create(
        "books",
        &json!({"title": "The Lathe of Heaven", "author": author["id"]}),
    )
    .await;
    let (status, problem) = delete(&server, "authors", &author["id"]).await;
    assert!(stop(&mut server).success());
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("relation_violation")),
        "{problem}"
    );
}

const NOTES_WITH_MAX_LENGTH: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true, max_length = 200 }
fields.body  = { type = "text" }
fields.code  = { type = "text" }
"#;

const NOTES_TIGHTER: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true, max_length = 5 }
fields.body  = { type = "text" }
fields.code  = { type = "text" }
"#;

/// Constraint changes need no SQL, but they are still versioned, and narrowing them over existing
/// records is unsafe.
#[tokio::test]
async fn validation_only_changes_are_versioned_and_narrowing_is_unsafe() {
    let project = Project::new();
    notes_with_records(
        &project,
        NOTES_WITH_MAX_LENGTH,
        &[json!({"title": "a long title"})],
    )
    .await;

    // Dropping `max_length` only widens what is accepted.
    project.write("looser.toml", NOTES);
    let plan = project.migrate("plan", "looser.toml", &[]);
    assert_snapshot!("validation_only_plan", plan.stdout);
    project.migrate("apply", "looser.toml", &[]).expect_code(0);
    assert_eq!(
        applied_versions(&project.migrate("status", "looser.toml", &[])),
        [1, 2]
    );

    project.write("tighter.toml", NOTES_TIGHTER);
    let plan = project.migrate("plan", "tighter.toml", &[]);
    assert!(plan.stdout.contains("[UNSAFE]"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("tightens the rules of `title`"),
        "{}",
        plan.stdout
    );
    project.migrate("apply", "tighter.toml", &[]).expect_code(2);
    project
        .migrate("apply", "tighter.toml", &["--allow-destructive"])
        .expect_code(0);
    assert_eq!(
        applied_versions(&project.migrate("status", "tighter.toml", &[])),
        [1, 2, 3]
    );
}
