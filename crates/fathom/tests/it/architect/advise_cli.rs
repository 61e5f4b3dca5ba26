//! `fathom advise` as a process: `--json` prints the verified findings, `--apply` writes the
//! advised index into the schema file (and only there), and once it is migrated the advice is
//! gone.

use serde_json::Value;

use super::support::{TASKS, as_admin, seeded, status_page, team_page};

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "fathom advise failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn missing_indexes(document: &Value) -> Vec<String> {
    document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "missing_index")
        .map(|f| f["evidence"]["index"].as_str().expect("index").to_owned())
        .collect()
}

#[tokio::test]
async fn advise_prints_json_and_apply_writes_the_index_into_the_schema_file() {
    let mut app = seeded(TASKS).await;
    as_admin(&app, "ANALYZE tasks;").await;
    app.halt().await;
    let dir = app.data_dir.path().to_path_buf();
    std::fs::write(dir.join("schema.toml"), TASKS).expect("schema file");
    let shapes = serde_json::to_string(&vec![team_page(), status_page()]).expect("shapes");
    std::fs::write(dir.join("shapes.json"), shapes).expect("shapes file");
    let args = [
        "advise",
        "--schema",
        "schema.toml",
        "--shapes",
        "shapes.json",
    ];

    let json = stdout(&app.cli(&[&args[..], &["--json"]].concat()));
    let document: Value = serde_json::from_str(&json).expect("one JSON document on stdout");
    assert_eq!(document["shapes"], 2);
    assert_eq!(document["database"], app.store.backend_name());
    assert_eq!(
        missing_indexes(&document),
        ["idx_tasks__team__created_at__id"]
    );
    let finding = &document["findings"][0];
    assert!(
        finding["change"]["sql"][0]
            .as_str()
            .is_some_and(|s| s.starts_with("CREATE INDEX"))
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("schema.toml")).expect("schema"),
        TASKS,
        "--json alone writes nothing"
    );

    let text = stdout(&app.cli(&[&args[..], &["--apply"]].concat()));
    assert!(text.contains("missing_index"), "{text}");
    assert!(text.contains("CREATE INDEX"), "{text}");
    assert!(
        text.contains("Wrote 1 index(es) into")
            && text.contains("tasks: [\"team\", \"created_at\", \"id\"]"),
        "{text}"
    );
    let written = std::fs::read_to_string(dir.join("schema.toml")).expect("schema");
    assert!(
        written.contains(
            "indexes = [[\"status\", \"created_at\", \"id\"], [\"team\", \"created_at\", \"id\"]]"
        ),
        "{written}"
    );
    fathom_schema::parse_schema("schema.toml", &written).expect("the patched file is a schema");

    // The database was not touched: the advice stands until the migration, and applying
    // again finds the index declared already.
    let again = stdout(&app.cli(&[&args[..], &["--apply"]].concat()));
    assert!(
        again.contains("declares every advised index already"),
        "{again}"
    );

    let migrate = app.cli(&["migrate", "apply", "--schema", "schema.toml"]);
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    as_admin(&app, "ANALYZE tasks;").await;
    let after: Value =
        serde_json::from_str(&stdout(&app.cli(&[&args[..], &["--json"]].concat()))).expect("JSON");
    assert!(missing_indexes(&after).is_empty(), "{after:#}");
}

#[tokio::test]
async fn advise_refuses_a_shapes_file_that_is_not_shapes() {
    let mut app = crate::helpers::spawn_app(TASKS).await;
    app.halt().await;
    let dir = app.data_dir.path().to_path_buf();
    std::fs::write(dir.join("schema.toml"), TASKS).expect("schema file");
    std::fs::write(dir.join("shapes.json"), "{\"not\": \"shapes\"}").expect("shapes file");
    let output = app.cli(&[
        "advise",
        "--schema",
        "schema.toml",
        "--shapes",
        "shapes.json",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a JSON array of recorded shapes"),
        "{stderr}"
    );
}
