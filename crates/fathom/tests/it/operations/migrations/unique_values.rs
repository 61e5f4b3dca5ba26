//! A unique index over values that records already share: the plan flags it unsafe with the
//! number of shared values and a few of them, `migrate plan --check` fails for CI, and an
//! apply that is let through fails naming the values, not the database's message.

use serde_json::json;

use super::super::support::Project;
use super::{NOTES, applied_versions, notes_with_records};

/// [`NOTES`] with `code` unique.
const NOTES_WITH_UNIQUE_CODE: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
fields.code  = { type = "text", unique = true }
"#;

#[tokio::test]
async fn a_unique_index_over_shared_values_is_unsafe_and_names_them() {
    let project = Project::new();
    let mut records = Vec::new();
    for (code, times) in [("A-1", 3), ("B-2", 2), ("C-3", 1)] {
        for _ in 0..times {
            records.push(json!({"title": "t", "code": code}));
        }
    }
    // Records without a code never collide in a unique index.
    records.extend([
        json!({"title": "no code"}),
        json!({"title": "no code either"}),
    ]);
    notes_with_records(&project, NOTES, &records).await;

    project.write("v2.toml", NOTES_WITH_UNIQUE_CODE);
    let plan = project.migrate("plan", "v2.toml", &[]);
    plan.expect_code(0);
    let shared = "2 values of `notes` (code) are held by more than one record, for example `\"A-1\"` (3 records), `\"B-2\"` (2 records): the unique index cannot be built and the migration would fail; make them unique first";
    assert!(plan.stdout.contains(shared), "{}", plan.stdout);
    assert!(plan.stdout.contains("[UNSAFE]"), "{}", plan.stdout);
    assert_snapshot!("shared_values_plan", plan.stdout);

    // For CI: the same plan, and a failing status.
    let check = project.migrate("plan", "v2.toml", &["--check"]);
    check.expect_code(2);
    assert_eq!(check.stdout, plan.stdout);
    assert!(check.stderr.contains("unsafe steps"), "{}", check.stderr);

    let failed = project.migrate("apply", "v2.toml", &["--allow-destructive"]);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(
        failed.stderr.contains("rolled back; nothing was changed")
            && failed.stderr.contains(shared),
        "{}",
        failed.stderr
    );
    for raw in [
        "UNIQUE constraint failed",
        "duplicate key",
        "while running",
        "CREATE UNIQUE",
    ] {
        assert!(
            !failed.stderr.contains(raw),
            "{raw:?} leaked: {}",
            failed.stderr
        );
    }
    assert_eq!(
        applied_versions(&project.migrate("status", "v2.toml", &[])),
        [1]
    );
}

#[test]
fn plan_check_passes_a_safe_plan_and_a_clean_unique_index() {
    let project = Project::new();
    project.write("v1.toml", NOTES);
    project
        .migrate("plan", "v1.toml", &["--check"])
        .expect_code(0);
    project.migrate("apply", "v1.toml", &[]).expect_code(0);
    project.write("v2.toml", NOTES_WITH_UNIQUE_CODE);
    let plan = project.migrate("plan", "v2.toml", &["--check"]);
    plan.expect_code(0);
    assert!(!plan.stdout.contains("UNSAFE"), "{}", plan.stdout);
}

/// A hidden field's values are for administrators only, and a plan is printed (and kept in CI
/// logs): the plan counts the shared values without showing them.
#[tokio::test]
async fn shared_values_of_a_hidden_field_are_counted_but_not_shown() {
    const WITH_TOKEN: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.token = { type = "text", hidden = true }
"#;
    let project = Project::new();
    let records: Vec<_> = (0..2)
        .map(|_| json!({"title": "t", "token": "s3cret-token"}))
        .collect();
    notes_with_records(&project, WITH_TOKEN, &records).await;
    project.write(
        "v2.toml",
        &WITH_TOKEN.replace("hidden = true", "hidden = true, unique = true"),
    );
    let plan = project.migrate("plan", "v2.toml", &["--check"]);
    plan.expect_code(2);
    assert!(
        plan.stdout.contains("1 value of `notes` (token) is held by more than one record (held by 2 records; values of hidden fields are not shown)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("s3cret"), "{}", plan.stdout);
}
