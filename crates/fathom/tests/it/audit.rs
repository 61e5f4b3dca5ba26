//! The hash-chained audit log over the real server and CLI: record changes of `audit = true`
//! collections (names, never values) with the admin API's filters and pages; `fathom audit
//! verify` naming the entry edited, deleted or inserted straight in the database (rusqlite or
//! tokio-postgres), and anchoring; retention leaving a checkpoint that still verifies.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, database_env, fathom_bin, json_with_status, send_as, spawn_app, spawn_app_with,
};

pub const AUDITED: &str = r#"
[collections.payments]
audit = true
fields.amount = { type = "integer", required = true }
fields.card   = { type = "text", hidden = true }

[collections.notes]
fields.body = { type = "text", required = true }
"#;

/// `GET /api/v1/admin/audit?QUERY` as the test administrator: the entries and the page meta.
async fn audit(app: &TestApp, query: &str) -> (Vec<Value>, Value) {
    let body = json_with_status(
        app.client
            .get(app.url(&format!("/api/v1/admin/audit?{query}")))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    (
        body["data"].as_array().unwrap().clone(),
        body["meta"]["page"].clone(),
    )
}

async fn pay(app: &TestApp, amount: i64) -> (String, String) {
    let response = app
        .client
        .post(app.url("/api/v1/payments"))
        .json(&json!({ "amount": amount, "card": "4111-1111-SECRET" }))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json_with_status(response, 201).await;
    (body["data"]["id"].as_str().unwrap().to_owned(), request_id)
}

#[tokio::test]
async fn record_changes_of_an_audited_collection_are_logged_by_name_and_filtered() {
    let app = spawn_app(AUDITED).await;
    let (id, request_id) = pay(&app, 10).await;
    app.create("notes", &json!({ "body": "not audited" })).await;
    json_with_status(
        app.patch_json(
            &format!("/api/v1/payments/{id}"),
            &json!({ "card": "5500-SECRET" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/payments/{id}"))
            .await
            .status()
            .as_u16(),
        204
    );

    let (entries, _) = audit(&app, "collection=payments").await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["record.delete", "record.update", "record.create"]);
    let create = &entries[2];
    assert_eq!(create["target"], json!(id));
    assert_eq!(create["request_id"], json!(request_id));
    assert_eq!(create["changed"], json!(["amount", "card"]));
    assert_eq!(entries[1]["changed"], json!(["card"]));
    assert!(create["actor"].is_string(), "{create}");
    assert_eq!(entries[1]["prev_hash"], create["hash"]);
    let everything = audit(&app, "limit=1000").await.0;
    assert!(
        !Value::Array(everything).to_string().contains("SECRET"),
        "a value reached the audit log"
    );

    // Filters combine; pages follow `next_before`.
    let actor = create["actor"].as_str().unwrap();
    let (updates, _) = audit(&app, &format!("action=record.update&actor={actor}")).await;
    assert_eq!(updates.len(), 1);
    assert!(audit(&app, "since=2999-01-01T00:00:00Z").await.0.is_empty());
    assert_eq!(
        audit(&app, "collection=payments&until=2999-01-01T00:00:00Z")
            .await
            .0
            .len(),
        3
    );
    let (first, page) = audit(&app, "collection=payments&limit=2").await;
    assert_eq!(first.len(), 2);
    let before = page["next_before"].as_i64().unwrap();
    let (rest, page) = audit(
        &app,
        &format!("collection=payments&limit=2&before={before}"),
    )
    .await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["action"], "record.create");
    assert_eq!(page["next_before"], Value::Null);

    for query in [
        "since=yesterday",
        "until=2026-13-01T00:00:00Z",
        "before=0",
        "actor=",
        "action=a&action=b",
        "colour=red",
    ] {
        let response = send_as(
            &app,
            "GET",
            &format!("/api/v1/admin/audit?{query}"),
            Some(&app.admin_token),
            None,
        )
        .await;
        let body = json_with_status(response, 400).await;
        assert_eq!(body["code"], "invalid_query", "{query}: {body}");
    }
    app.stop().await;
}

/// `fathom audit ARGS` against the app's database; exit code, stdout and stderr.
pub(crate) fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend(["--data-dir", app.data_dir.path().to_str().unwrap()]);
    let output = Command::new(fathom_bin())
        .args(&all)
        .current_dir(app.data_dir.path())
        .env_remove("RUST_LOG")
        .envs(database_env(app.database.as_ref()))
        .output()
        .expect("fathom runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs one SQL statement on the app's database from outside the server, as an intruder would.
async fn tamper(app: &TestApp, sql: &str) {
    match &app.database {
        Some(database) => {
            let (client, connection) =
                tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            let connection = tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
            drop(client);
            let _ = connection.await;
        }
        None => {
            let path = app.data_dir.path().join("fathom.db");
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(5)).unwrap();
                conn.execute_batch(&sql).unwrap();
            })
            .await
            .unwrap();
        }
    }
}

#[track_caller]
fn assert_broken(run: &(i32, String, String), expected: &str) {
    assert_eq!(run.0, 1, "verify should fail\n{}\n{}", run.1, run.2);
    assert!(
        run.2.contains(expected),
        "expected {expected:?} in:\n{}",
        run.2
    );
}

#[tokio::test]
async fn verify_names_the_entry_edited_deleted_or_inserted_in_the_database() {
    let app = spawn_app(AUDITED).await;
    for amount in 0..4 {
        pay(&app, amount).await;
    }
    let head = app.store.audit_head().await.unwrap();
    let anchor = app.data_dir.path().join("anchor.json");
    let run = cli(&app, &["verify", "--export-head", anchor.to_str().unwrap()]);
    assert_eq!(run.0, 0, "{}\n{}", run.1, run.2);
    assert!(run.1.contains("The audit log verifies"), "{}", run.1);
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&anchor).unwrap()).unwrap();
    assert_eq!(exported, json!({ "seq": head.seq, "hash": head.hash }));
    let printed = cli(&app, &["head"]);
    assert_eq!(serde_json::from_str::<Value>(&printed.1).unwrap(), exported);

    // Edited: the entry's own hash no longer fits.
    let target = head.seq - 2;
    tamper(
        &app,
        &format!(
            "UPDATE \"_fathom_audit\" SET \"changed\" = '[\"amount\"]' WHERE \"seq\" = {target}"
        ),
    )
    .await;
    assert_broken(
        &cli(&app, &["verify"]),
        &format!("entry {target} is altered"),
    );
    tamper(
        &app,
        &format!(
            "UPDATE \"_fathom_audit\" SET \"changed\" = '[\"amount\",\"card\"]' WHERE \"seq\" = {target}"
        ),
    )
    .await;
    assert_eq!(
        cli(&app, &["verify"]).0,
        0,
        "put back as it was, it verifies"
    );

    // Deleted: its successor no longer follows it.
    tamper(
        &app,
        &format!(
            "CREATE TABLE \"saved\" AS SELECT * FROM \"_fathom_audit\" WHERE \"seq\" = {target};
             DELETE FROM \"_fathom_audit\" WHERE \"seq\" = {target};"
        ),
    )
    .await;
    assert_broken(
        &cli(&app, &["verify"]),
        &format!("entry {target} is removed"),
    );
    tamper(
        &app,
        "INSERT INTO \"_fathom_audit\" SELECT * FROM \"saved\"; DROP TABLE \"saved\";",
    )
    .await;
    assert_eq!(cli(&app, &["verify"]).0, 0);

    // Deleted at the end: the head names it.
    tamper(
        &app,
        &format!(
            "CREATE TABLE \"saved\" AS SELECT * FROM \"_fathom_audit\" WHERE \"seq\" = {};
             DELETE FROM \"_fathom_audit\" WHERE \"seq\" = {};",
            head.seq, head.seq
        ),
    )
    .await;
    assert_broken(
        &cli(&app, &["verify"]),
        &format!("entry {} is removed", head.seq),
    );
    tamper(
        &app,
        "INSERT INTO \"_fathom_audit\" SELECT * FROM \"saved\"; DROP TABLE \"saved\";",
    )
    .await;

    // Inserted: a row past the head, with a hash copied from a real one.
    let intruder = head.seq + 1;
    tamper(
        &app,
        &format!(
            "INSERT INTO \"_fathom_audit\" (\"seq\", \"at\", \"action\", \"outcome\", \"prev_hash\", \"hash\")
             VALUES ({intruder}, '2026-01-01T00:00:00.000Z', 'login', 'success', '{h}', '{h}')",
            h = head.hash
        ),
    )
    .await;
    assert_broken(
        &cli(&app, &["verify"]),
        &format!("entry {intruder} is inserted"),
    );
    tamper(
        &app,
        &format!("DELETE FROM \"_fathom_audit\" WHERE \"seq\" = {intruder}"),
    )
    .await;

    // A log rewritten wholesale (hashes and head recomputed by the intruder) is beyond the
    // chain's reach, not an anchor's: the anchored entry must keep the anchored hash.
    let run = cli(&app, &["verify", "--anchor", anchor.to_str().unwrap()]);
    assert_eq!(run.0, 0, "{}\n{}", run.1, run.2);
    let forged = app.data_dir.path().join("forged.json");
    std::fs::write(
        &forged,
        json!({ "seq": head.seq - 1, "hash": "ab".repeat(32) }).to_string(),
    )
    .unwrap();
    assert_broken(
        &cli(&app, &["verify", "--anchor", forged.to_str().unwrap()]),
        "does not have the anchored hash",
    );
    app.stop().await;
}

#[tokio::test]
async fn retention_prunes_behind_a_checkpoint_and_the_chain_still_verifies() {
    let app = spawn_app_with(AUDITED, |config| config.audit.retention_count = 3).await;
    for amount in 0..8 {
        pay(&app, amount).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let entries = loop {
        let (entries, _) = audit(&app, "limit=100").await;
        if entries.iter().any(|e| e["action"] == "audit.checkpoint")
            && entries
                .iter()
                .filter(|e| e["action"] != "audit.checkpoint")
                .count()
                <= 3
        {
            break entries;
        }
        assert!(Instant::now() < deadline, "no pruning: {entries:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let checkpoint = entries
        .iter()
        .find(|e| e["action"] == "audit.checkpoint")
        .unwrap();
    let detail: Value = serde_json::from_str(checkpoint["detail"].as_str().unwrap()).unwrap();
    let oldest = entries.last().unwrap();
    assert_eq!(
        oldest["seq"].as_i64().unwrap(),
        detail["pruned_through"].as_i64().unwrap() + 1
    );
    assert_eq!(oldest["prev_hash"], detail["hash"]);
    let run = cli(&app, &["verify"]);
    assert_eq!(run.0, 0, "{}\n{}", run.1, run.2);
    // Tampering with what remains is still seen.
    let seq = oldest["seq"].as_i64().unwrap();
    tamper(
        &app,
        &format!("UPDATE \"_fathom_audit\" SET \"actor\" = 'someone-else' WHERE \"seq\" = {seq}"),
    )
    .await;
    assert_broken(&cli(&app, &["verify"]), &format!("entry {seq} is altered"));
    app.stop().await;
}
