//! Problems in access rules are schema problems like any other: reported by `schema check`,
//! `migrate` and `serve` in the same list, in file order, at the rule's line and column.

use super::super::support::Project;

/// A field problem (line 3) between two rule problems (lines 2 and 7): one run reports all three.
const BROKEN: &str = r#"[collections.posts]
rules = { list = "published = true", view = "nmae = 'x'" }
fields.title = { type = "txet" }
fields.published = { type = "boolean" }

[collections.notes]
rules = { list = "owner = auth.id &&" }
fields.owner = { type = "text" }
"#;

#[test]
fn rule_problems_are_reported_with_the_others_at_their_position() {
    let project = Project::new();
    project.write("schema.toml", BROKEN);
    let check = project.cli(&["schema", "check", "--schema", "schema.toml"]);
    check.expect_code(1);
    let located: Vec<&str> = check
        .stderr
        .lines()
        .filter(|l| l.starts_with("schema.toml:"))
        .collect();
    assert_eq!(located.len(), 2, "{}", check.stderr);
    assert!(located[0].starts_with("schema.toml:3:"), "{}", check.stderr);
    // The rule's own column: its end, after `&&`.
    assert!(
        located[1].starts_with("schema.toml:7:37: The `list` rule of `notes` is not valid: "),
        "{}",
        check.stderr
    );
    assert!(!check.stderr.contains(".;"), "{}", check.stderr);

    // `posts` has a broken field, so its rules wait for it (naming `title` would otherwise be
    // reported as unknown); fixed, its rule problem shows at the rule's column.
    project.write("schema.toml", &BROKEN.replace("txet", "text"));
    for args in [
        &["schema", "check", "--schema", "schema.toml"][..],
        &["migrate", "plan", "--schema", "schema.toml"][..],
        &[
            "serve",
            "--schema",
            "schema.toml",
            "--listen",
            "127.0.0.1:0",
        ][..],
    ] {
        let run = project.cli(args);
        run.expect_code(1);
        let located: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("schema.toml:"))
            .collect();
        assert_eq!(located.len(), 2, "{args:?}: {}", run.stderr);
        assert!(
            located[0].starts_with("schema.toml:2:46: The `view` rule of `posts` is not valid: "),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            located[1].starts_with("schema.toml:7:37:"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("2 problem(s)"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(
        !project.path().join("fathom_data").exists(),
        "nothing is created for an invalid schema"
    );
}
