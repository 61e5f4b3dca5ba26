//! A relation to accounts comes and goes through `fathom migrate` like any relation: adding it
//! plans one step whose foreign key references the accounts' table, the served API then refuses
//! ids of no account, and removing it is a destructive step applied with the flag.

use serde_json::json;

use crate::operations::support::{Http, Project, stop};

const V1: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true }
fields.title = { type = "text", required = true }
"#;

const V2: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true }
fields.title = { type = "text", required = true }
fields.owner = { type = "relation", collection = "users", on_delete = "set_null" }
"#;

#[tokio::test]
async fn a_relation_to_users_is_added_and_removed_by_migrate() {
    let project = Project::new();
    project.write("v1.toml", V1);
    project.migrate("apply", "v1.toml", &[]).expect_code(0);
    let created = project.cli_with_env(
        &["users", "create", "--email", "owner@example.com"],
        &[("FATHOM_USER_PASSWORD", "a long and unusual passphrase 2026")],
    );
    created.expect_code(0);
    let owner = created
        .stdout
        .split(['(', ')'])
        .nth(1)
        .expect("the new id in the output")
        .to_owned();

    project.write("v2.toml", V2);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("add field `notes.owner`"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("\"_fathom_users\""), "{}", plan.stdout);
    project.migrate("apply", "v2.toml", &[]).expect_code(0);
    {
        let mut server = project.serve(&["--schema", "v2.toml"]);
        let http = Http::new(&server);
        let note = http
            .create("notes", &json!({"title": "mine", "owner": owner}))
            .await;
        assert_eq!(note["owner"], owner.as_str());
        let nobody = uuid::Uuid::now_v7().to_string();
        let (status, body) = http
            .post("/api/v1/notes", &json!({"title": "x", "owner": nobody}))
            .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["code"], "relation_violation");
        assert!(stop(&mut server).success());
    }
    // Deleting the account clears the reference (set_null), through the CLI too.
    project.cli(&["users", "delete", &owner]).expect_code(0);

    // Removing the field drops data, so it waits for the flag.
    let plan = project.migrate("plan", "v1.toml", &[]);
    plan.expect_code(0);
    assert!(
        plan.stdout.contains("drop field `notes.owner`"),
        "{}",
        plan.stdout
    );
    project.migrate("apply", "v1.toml", &[]).expect_code(2);
    project
        .migrate("apply", "v1.toml", &["--allow-destructive"])
        .expect_code(0);
    let mut server = project.serve(&["--schema", "v1.toml"]);
    let http = Http::new(&server);
    let notes = http.list("notes").await;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].get("owner").is_none(), "{:?}", notes[0]);
    assert!(stop(&mut server).success());
}
