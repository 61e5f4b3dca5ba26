//! The README's walkthrough runs as written against the demo server, so it cannot rot.

use std::process::Command;

use crate::helpers::{database_env, scratch_database_blocking, spawn_server_process_with_env};

/// The first ```sh block after the heading `## {heading}`.
fn sh_block(heading: &str) -> String {
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split(&format!("## {heading}\n"))
        .nth(1)
        .expect("README has the section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .expect("the section has a sh block");
    block
        .split("```")
        .next()
        .expect("the block ends")
        .to_owned()
}

/// Runs the block under `heading` against a fresh demo server; returns its standard output.
fn run_against_the_demo(heading: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = scratch_database_blocking();
    let env = database_env(database.as_ref());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = spawn_server_process_with_env(dir.path(), &["--demo"], &env);
    let script = sh_block(heading).replace("127.0.0.1:8090", &server.address.to_string());
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{heading} failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn readme_auth_walkthrough_works_verbatim_against_the_demo() {
    let stdout = run_against_the_demo("Auth walkthrough");
    for expected in [
        r#""status":"accepted""#,
        "verify: 204",
        r#""email":"ada@example.com""#,
        r#""verified":true"#,
        r#""data":[]"#,
        r#""refresh_token":""#,
        "replayed refresh: 401",
        "after the replay: 401",
        r#""name":"Brass desk lamp""#,
        "key writes a product: 403",
    ] {
        assert!(
            stdout.contains(expected),
            "auth walkthrough output lacks {expected}:\n{stdout}"
        );
    }
}

#[test]
fn readme_walkthrough_works_verbatim_against_the_demo() {
    let stdout = run_against_the_demo("Walkthrough");
    for expected in [
        r#"{"status":"ok"}"#,
        "HTTP/1.1 401",
        r#""code":"unauthorized""#,
        r#""status":"ready""#,
        r#""total":3"#,
        "created /api/v1/categories/",
        r#""name":"Garden & Patio""#,
        r#""version":2"#,
        "HTTP/1.1 400",
        r#""code":"validation_failed""#,
        r#""field":"colour","code":"unknown_field""#,
        r#""field":"price","code":"too_small""#,
        "HTTP/1.1 409",
        r#""code":"unique_violation""#,
        r#""name":"Paper floor lamp""#,
        "HTTP/1.1 204",
        "HTTP/1.1 404",
    ] {
        assert!(
            stdout.contains(expected),
            "walkthrough output lacks {expected}:\n{stdout}"
        );
    }
}
