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
            .contains("the configuration file nope.toml (from the flag --config) does not exist"),
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

/// The commit `build.rs` should have recorded: git's answer for these sources, or "unknown".
fn expected_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[test]
fn version_names_the_commit() {
    let project = Project::new();
    let version = project.cli(&["--version"]);
    version.expect_code(0);
    assert_eq!(
        version.stdout,
        format!(
            "fathom {} (commit {})\n",
            env!("CARGO_PKG_VERSION"),
            expected_commit()
        )
    );
}

/// Whether `text` is an RFC 3339 UTC timestamp such as 2026-01-31T09:30:00.000Z.
fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    text.len() >= 20
        && digits(0..4)
        && digits(5..7)
        && digits(8..10)
        && digits(11..13)
        && digits(14..16)
        && digits(17..19)
        && &text[4..5] == "-"
        && &text[10..11] == "T"
        && text.ends_with('Z')
}

#[test]
fn keys_help_names_both_kinds_of_key_and_list_prints_rfc3339_dates() {
    let project = Project::new();
    let help = project.cli(&["--help"]);
    let keys_line = help
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("keys "))
        .unwrap_or_default();
    assert!(
        keys_line.contains("signing keys") && keys_line.contains("API keys"),
        "{}",
        help.stdout
    );
    let help = project.cli(&["keys", "--help"]);
    help.expect_code(0);
    for (subcommand, kind) in [
        ("rotate", "Signing keys"),
        ("list", "Signing keys and API keys"),
        ("create", "API keys"),
        ("revoke", "API keys"),
    ] {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(subcommand) && l.contains(kind)),
            "`{subcommand}` says it is about {kind}: {}",
            help.stdout
        );
    }

    project.write(
        "fathom.schema.toml",
        "[collections.notes]\nfields.body = { type = \"text\" }\n",
    );
    project.cli(&["keys", "rotate"]).expect_code(0);
    project.cli(&["keys", "rotate"]).expect_code(0);
    let created = project.cli(&["keys", "create", "--name", "svc", "--scope", "notes:list"]);
    created.expect_code(0);
    let listed = project.cli(&["keys", "list"]);
    listed.expect_code(0);
    let mut dates = 0;
    for word in ["created", "retired"] {
        for (at, _) in listed.stdout.match_indices(&format!("{word} ")) {
            let date = listed.stdout[at + word.len() + 1..]
                .split_whitespace()
                .next()
                .unwrap_or_default();
            assert!(is_rfc3339(date), "{word} {date:?}: {}", listed.stdout);
            dates += 1;
        }
    }
    // Two signing keys (one retired) and one API key.
    assert_eq!(dates, 4, "{}", listed.stdout);
    assert!(!listed.stdout.contains("unix"), "{}", listed.stdout);
}
