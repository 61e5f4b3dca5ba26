//! The key ring at start-up: no key file, a key file without a key the rows need, and a key
//! file whose key has the right id but the wrong bytes.

use fathom::Application;
use serde_json::json;

use super::support::{SCHEMA, SSN, key_file, spawn_encrypted, with_keys};
use crate::helpers::{assert_problem, test_config_on};

fn error_text(result: anyhow::Result<Application>) -> String {
    match result {
        Ok(_) => panic!("the server must refuse to start"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn serve_refuses_an_encrypted_schema_without_a_key_file() {
    let data = tempfile::tempdir().expect("dir");
    let database = crate::helpers::scratch_database().await;
    let config = test_config_on(data.path(), database.as_ref());
    let schema = fathom_schema::parse_schema("s.toml", SCHEMA).expect("schema");
    let error = error_text(Application::build(&config, schema, "fathom.db").await);
    assert!(error.contains("does not invent keys"), "{error}");
    assert!(error.contains("people.email, people.ssn"), "{error}");
    assert!(error.contains("encryption.key_file"), "{error}");
}

#[tokio::test]
async fn a_key_the_rows_need_missing_from_the_key_file_is_refused_at_start_up() {
    let (app, _keys, _path) = spawn_encrypted().await;
    app.create("people", &json!({"name": "A", "ssn": SSN}))
        .await;
    let data_dir = tempfile::tempdir().expect("dir");
    let database_url = app.database.as_ref().map(|d| d.url());
    let old_dir = app.data_dir.path().to_path_buf();
    let (_other, other_path) = key_file("k2");
    // Start a second server on the same data with a key file that lacks k1.
    let mut config = test_config_on(&old_dir, None);
    if let Some(url) = database_url {
        config.database.url = Some(fathom::config::Secret::new(url));
    }
    with_keys(&other_path)(&mut config);
    let schema = fathom_schema::parse_schema("s.toml", SCHEMA).expect("schema");
    let error = error_text(Application::build(&config, schema, "fathom.db").await);
    assert!(
        error.contains("key `k1` (1 values of people.ssn)"),
        "{error}"
    );
    assert!(error.contains("restore the key file"), "{error}");
    drop(data_dir);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_key_under_the_right_id_reads_as_data_unreadable_naming_the_record() {
    let (app, _keys, _path) = spawn_encrypted().await;
    let created = app
        .create("people", &json!({"name": "A", "ssn": SSN}))
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let (_wrong, wrong_path) = key_file("k1");
    let app = app.restart_with(SCHEMA, with_keys(&wrong_path)).await;
    let response = app.get(&format!("/api/v1/people/{id}")).await;
    let problem = assert_problem(response, 500, "data_unreadable").await;
    let text = problem.to_string();
    assert!(text.contains(&id), "the record is named: {text}");
    assert!(!text.contains(SSN), "{text}");
    let list = app.get("/api/v1/people").await;
    assert_problem(list, 500, "data_unreadable").await;
    app.stop().await;
}
