//! Migration review in `fathom migrate plan`: the lock and rewrite of each step with the table's
//! row count on this database, the API changes (breaking ones first and marked), `--json`, and
//! `--deny-breaking` beside an unchanged `--check`.

use serde_json::{Value, json};

use super::super::support::Project;
use super::{NOTES, notes_with_records};

/// [`NOTES`] with `code` an integer, a new optional field, and a stricter `list` rule.
const NOTES_REVIEWED: &str = r#"
[collections.notes]
rules = { list = "auth.id != null", view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "integer" }
fields.extra = { type = "text" }
"#;

/// [`NOTES`] with a stricter `list` rule only: no SQL, nothing unsafe, but breaking.
const NOTES_RULE_ONLY: &str = r#"
[collections.notes]
rules = { list = "auth.id != null", view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "text" }
"#;

/// [`NOTES`] with one more optional field: additive.
const NOTES_WITH_EXTRA: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "text" }
fields.extra = { type = "text" }
"#;

async fn three_notes(project: &Project) {
    let records: Vec<Value> = (1..=3)
        .map(|n| json!({"title": format!("note {n}"), "code": n.to_string()}))
        .collect();
    notes_with_records(project, NOTES, &records).await;
}

/// The lines of the section that starts with `heading`, up to the next blank line.
fn section<'a>(stdout: &'a str, heading: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .take_while(|l| !l.is_empty())
        .collect()
}

#[tokio::test]
async fn plan_shows_the_lock_and_rewrite_with_the_row_count_and_the_api_changes() {
    let project = Project::new();
    three_notes(&project).await;
    project.write("v2.toml", NOTES_REVIEWED);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);

    let locks = section(&plan.stdout, "Locks and rewrites");
    assert!(!locks.is_empty(), "{}", plan.stdout);
    let rewrite = if project.database.is_some() {
        // PostgreSQL alters in place: the type change is its own step, under ACCESS EXCLUSIVE.
        "   lock: ACCESS EXCLUSIVE (reads and writes wait); REWRITES `notes`, copying 3 records: est. under 1 s"
    } else {
        // SQLite rebuilds the table for the whole group, under the database write lock.
        "   lock: the database write lock, held for the whole migration (every write waits, reads go on); REWRITES `notes`, copying 3 records: est. under 1 s"
    };
    assert!(locks.contains(&rewrite), "{}", plan.stdout);
    let flagged = locks
        .iter()
        .position(|l| {
            l.contains("`notes.code` from optional text to optional integer")
                && l.ends_with("[REWRITE]")
        })
        .expect("the type change is flagged as a rewrite");
    assert!(
        locks[flagged + 2].starts_with(
            "   safe alternative: To change the type of `code` without rewriting `notes`"
        ),
        "{}",
        plan.stdout
    );
    if project.database.is_some() {
        assert!(
            locks.contains(&"   lock: ACCESS EXCLUSIVE (reads and writes wait); catalog change only, no rewrite of `notes` (3 records): brief"),
            "adding `extra` is a catalog change: {}",
            plan.stdout
        );
    }

    let api = section(&plan.stdout, "API changes");
    assert_eq!(
        api.first().copied(),
        Some("API changes: 2 breaking, 0 to review, 1 additive"),
        "{}",
        plan.stdout
    );
    let labels: Vec<&str> = api
        .iter()
        .filter(|l| l.starts_with("   ") && !l.starts_with("    "))
        .map(|l| l.trim_start())
        .collect();
    assert_eq!(
        labels,
        [
            "BREAKING  type changed: `notes.code`",
            "BREAKING  rule tightened: `notes` list rule",
            "additive  field added: `notes.extra`",
        ],
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("before: true  after: \"auth.id != null\"  (collections.notes.rules.list)"),
        "{}",
        plan.stdout
    );
    // The plan's closing advice still ends it, and `apply` refusing it shows the same review.
    assert!(
        plan.stdout
            .trim_end()
            .ends_with("`fathom migrate apply --allow-destructive`.")
    );
    let refused = project.migrate("apply", "v2.toml", &[]);
    refused.expect_code(2);
    assert_eq!(refused.stdout, plan.stdout);
}

#[tokio::test]
async fn deny_breaking_fails_on_a_breaking_change_that_check_lets_through() {
    let project = Project::new();
    three_notes(&project).await;

    project.write("rule.toml", NOTES_RULE_ONLY);
    // Rules alone are no migration, but the API changes all the same.
    let check = project.migrate("plan", "rule.toml", &["--check"]);
    check.expect_code(0);
    assert!(
        check
            .stdout
            .starts_with("The database matches the schema file (version 1); nothing to migrate.\n\nAPI changes: 1 breaking, 0 to review, 0 additive\n"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .ends_with("servers take them from their schema file (on SIGHUP or restart).\n"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("BREAKING  rule tightened: `notes` list rule"),
        "{}",
        check.stdout
    );
    let denied = project.migrate("plan", "rule.toml", &["--deny-breaking"]);
    denied.expect_code(3);
    assert_eq!(denied.stdout, check.stdout);
    assert!(
        denied.stderr.contains("--deny-breaking"),
        "{}",
        denied.stderr
    );

    project.write("extra.toml", NOTES_WITH_EXTRA);
    let additive = project.migrate("plan", "extra.toml", &["--deny-breaking", "--check"]);
    additive.expect_code(0);
    assert!(
        additive
            .stdout
            .contains("API changes: 0 breaking, 0 to review, 1 additive"),
        "{}",
        additive.stdout
    );
}

#[tokio::test]
async fn plan_json_has_each_step_s_locking_and_the_api_changes() {
    let project = Project::new();
    three_notes(&project).await;
    project.write("v2.toml", NOTES_REVIEWED);
    let run = project.migrate("plan", "v2.toml", &["--json"]);
    run.expect_code(0);
    let plan: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(
        (plan["from_version"].clone(), plan["to_version"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(plan["unsafe"], true);
    assert_eq!(plan["breaking"], true);
    let steps = plan["steps"].as_array().expect("steps");
    let rewrite = steps
        .iter()
        .find(|s| s["locking"]["rewrites"] == true)
        .expect("a rewriting step");
    assert_eq!(rewrite["locking"]["rows"], 3);
    assert_eq!(rewrite["locking"]["table"], "notes");
    let lock = if project.database.is_some() {
        "access_exclusive"
    } else {
        "database_write"
    };
    assert_eq!(rewrite["locking"]["lock"], lock);
    assert!(
        rewrite["locking"]["alternative"]
            .as_str()
            .is_some_and(|a| a.contains("add a new optional field"))
    );
    let kinds: Vec<&str> = plan["api_changes"]
        .as_array()
        .expect("api changes")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["type_changed", "rule_tightened", "field_added"]);
    let code = &plan["api_changes"][0];
    assert_eq!(
        code["path"],
        "#/components/schemas/NotesRecord/properties/code"
    );
    assert_eq!(code["before"]["x-fathom-type"], "text");
    assert_eq!(code["after"]["x-fathom-type"], "integer");
    let findings = plan["findings"].as_array().expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f["kind"] == "migration_risk" && f["collection"] == "notes")
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["kind"] == "breaking_api_change")
            .count(),
        2
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["kind"] == "additive_api_change")
            .count(),
        1
    );
}
