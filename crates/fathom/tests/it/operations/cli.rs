//! The command line: `init`, `schema check`, and how `serve` starts (or explains why it cannot).

use serde_json::json;

use super::support::{Http, Project, stop};
use crate::helpers::TEST_SCHEMA;

#[tokio::test]
async fn init_writes_a_project_that_checks_and_serves() {
    let project = Project::new();
    let init = project.cli(&["init"]);
    init.expect_code(0);
    assert!(
        init.stdout.contains("wrote ./fathom.schema.toml"),
        "{}",
        init.stdout
    );
    assert!(
        init.stdout.contains("wrote ./fathom.toml"),
        "{}",
        init.stdout
    );
    assert!(
        init.stdout.contains("fathom schema check"),
        "init says what to do next: {}",
        init.stdout
    );

    let check = project.cli(&["schema", "check"]);
    check.expect_code(0);
    assert!(
        check
            .stdout
            .starts_with("fathom.schema.toml is valid: 2 collection(s), "),
        "{}",
        check.stdout
    );
    assert!(check.stderr.is_empty(), "{}", check.stderr);

    // The written fathom.toml is read (it sets listen to 127.0.0.1:8090; the flag wins) and the
    // starter schema serves.
    let mut server = project.serve(&[]);
    assert_ne!(
        server.address.port(),
        8090,
        "the --listen flag beats fathom.toml"
    );
    let http = Http::new(&server);
    assert_eq!(http.get("/ready").await.0, 200);
    // The starter schema's rules: anyone may list projects; writing them is for administrators.
    assert_eq!(http.get("/api/v1/projects").await.0, 200);
    let (status, body) = http
        .post("/api/v1/projects", &json!({"name": "Launch"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert!(stop(&mut server).success());
    // Database files exist on SQLite only; on PostgreSQL the data lives in the server.
    if project.database.is_none() {
        assert!(
            project.path().join("fathom_data/fathom.db").is_file(),
            "the data dir of fathom.toml is used"
        );
    }
}

#[test]
fn init_never_overwrites() {
    let project = Project::new();
    project.cli(&["init"]).expect_code(0);
    project.write("fathom.toml", "# mine\n");

    let again = project.cli(&["init"]);
    again.expect_code(1);
    assert!(
        again
            .stderr
            .contains("already exists; init never overwrites files"),
        "{}",
        again.stderr
    );
    assert_eq!(project.read("fathom.toml"), "# mine\n");

    // One file present is enough to refuse, and the missing one is not written either.
    std::fs::remove_file(project.path().join("fathom.schema.toml")).expect("remove");
    let partial = project.cli(&["init"]);
    partial.expect_code(1);
    assert!(
        partial.stderr.contains("fathom.toml already exists"),
        "{}",
        partial.stderr
    );
    assert!(
        !project.path().join("fathom.schema.toml").exists(),
        "init writes all files or none"
    );
}

#[test]
fn init_into_a_new_directory() {
    let project = Project::new();
    project.cli(&["init", "--dir", "deep/app"]).expect_code(0);
    let app = project.path().join("deep/app");
    assert!(app.join("fathom.schema.toml").is_file() && app.join("fathom.toml").is_file());
    project
        .cli(&["schema", "check", "--schema", "deep/app/fathom.schema.toml"])
        .expect_code(0);
}

#[test]
fn schema_check_counts_collections_and_fields() {
    let project = Project::new();
    project.write("app.toml", TEST_SCHEMA);
    let check = project.cli(&["schema", "check", "--schema", "app.toml"]);
    check.expect_code(0);
    assert_eq!(
        check.stdout,
        "app.toml is valid: 3 collection(s), 16 field(s).\n"
    );
}

#[test]
fn schema_check_reports_every_error_with_its_position_and_a_hint() {
    let project = Project::new();
    project.write(
        "bad.toml",
        r#"[collections.things]
fields.name = { type = "txt", required = true }
fields.qty  = { type = "integer", min = "a" }
fields.ref  = { type = "relation", collection = "nowhere" }
"#,
    );
    let check = project.cli(&["schema", "check", "--schema", "bad.toml"]);
    check.expect_code(1);
    assert!(check.stdout.is_empty(), "{}", check.stdout);
    assert!(check.stderr.contains("3 problem(s)"), "{}", check.stderr);
    let lines: Vec<&str> = check.stderr.lines().collect();
    for (line, column, words) in [(2, 24, "txt"), (3, 41, "min"), (4, 49, "nowhere")] {
        let prefix = format!("bad.toml:{line}:{column}: ");
        let at = lines
            .iter()
            .position(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no error at {prefix}\n{}", check.stderr));
        assert!(lines[at].contains(words), "{}", lines[at]);
        assert!(
            lines
                .get(at + 1)
                .is_some_and(|hint| hint.starts_with("  hint: ")),
            "each error has a hint:\n{}",
            check.stderr
        );
    }
}

#[test]
fn commands_without_a_schema_file_point_to_init() {
    let project = Project::new();
    let check = project.cli(&["schema", "check"]);
    check.expect_code(1);
    assert!(
        check
            .stderr
            .contains("cannot read the schema file fathom.schema.toml"),
        "{}",
        check.stderr
    );
    assert!(check.stderr.contains("fathom init"), "{}", check.stderr);

    let serve = project.serve_expecting_exit(&[]);
    assert_ne!(serve.code, Some(0), "{serve:?}");
    assert!(
        serve.stderr.contains("fathom.schema.toml"),
        "{}",
        serve.stderr
    );
    assert!(serve.stderr.contains("fathom init"), "{}", serve.stderr);
    assert!(
        !project.path().join("fathom_data").exists(),
        "nothing is created without a schema"
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let project = Project::new();
    project.write("fathom.schema.toml", TEST_SCHEMA);
    let check = project.cli(&["schema", "check", "--config", "nope.toml"]);
    check.expect_code(1);
    assert!(
        check
            .stderr
            .contains("the configuration file nope.toml does not exist"),
        "{}",
        check.stderr
    );
}

#[tokio::test]
async fn serve_demo_seeds_a_fresh_directory_once() {
    let project = Project::new();
    let mut server = project.serve(&["--demo"]);
    let http = Http::new(&server);
    assert_eq!(http.get("/ready").await.0, 200);
    let products = http.list("products").await;
    assert_eq!(products.len(), 6);
    assert_eq!(http.list("categories").await.len(), 3);
    // Orders belong to shops (tenants): an anonymous caller sees none of them.
    assert!(http.list("orders").await.is_empty());
    assert!(stop(&mut server).success());
    // Database files exist on SQLite only; on PostgreSQL the data lives in the server.
    if project.database.is_none() {
        assert!(project.path().join("fathom_data/demo.db").is_file());
        assert!(
            !project.path().join("fathom_data/fathom.db").exists(),
            "the demo keeps its own database"
        );
    }

    // A second start finds the seed and does not add it again.
    let mut server = project.serve(&["--demo"]);
    assert_eq!(Http::new(&server).list("products").await.len(), 6);
    assert!(stop(&mut server).success());
}

#[test]
fn an_unreachable_or_malformed_postgres_url_stops_start_up_with_what_failed_and_how_to_fix_it() {
    let project = Project::new();
    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    // Nothing listens on port 1: the connection is refused at once.
    let run = project.cli_with_env(
        &["serve", "--listen", "127.0.0.1:0"],
        &[(
            "FATHOM_DATABASE__URL",
            "postgres://fathom:hunter2@127.0.0.1:1/shop",
        )],
    );
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    for expected in [
        "cannot open the PostgreSQL database",
        "fathom@127.0.0.1:1/shop",
        "hint: check that the server is running",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    assert!(
        !run.stderr.contains("hunter2"),
        "the password leaked: {}",
        run.stderr
    );

    let run = project.cli_with_env(
        &["serve", "--listen", "127.0.0.1:0"],
        &[(
            "FATHOM_DATABASE__URL",
            "postgres://fathom@127.0.0.1:notaport/shop",
        )],
    );
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("does not parse"), "{}", run.stderr);
}
