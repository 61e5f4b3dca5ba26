//! Turning encryption on and off for a field with data (issue 15, item 4): `fathom migrate plan`
//! shows the conversion with its row count as a caution, `fathom migrate apply` commits the
//! schema change and converts the values (and the outbox's copies) in batches, resumable after
//! an interruption (`--batches`), while a server keeps serving and writing; readers get the
//! right value throughout, and no plaintext remains once an "on" conversion is done. The same
//! test runs on SQLite and PostgreSQL (`FATHOM_TEST_BACKEND`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::helpers::on_postgres;
use crate::operations::support::{Http, Project, stop};
use crate::query::support::encode;

const PLAIN: &str = r#"
[collections.tickets]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.notes = { type = "text" }
"#;

const ENCRYPTED: &str = r#"
[collections.tickets]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.notes = { type = "text", encrypted = true, blind_index = true }
"#;

/// Every note carries it: finding it in the database means a plaintext left behind.
const CANARY: &str = "canary-5190";

fn note(kind: &str, n: usize) -> String {
    format!("{kind}-{n}-{CANARY}")
}

/// A project with a key file, rate limits off (the test hammers the API) and `schema`.
fn project(schema: &str) -> Project {
    let project = Project::new();
    let keys = project.path().join("fathom.keys");
    std::fs::write(
        &keys,
        fathom_store::KeyRing::generate_file("k1").expect("keys"),
    )
    .expect("key file");
    project.write(
        "fathom.toml",
        &format!(
            "[encryption]\nkey_file = {:?}\n\n[rate_limits]\nenabled = false\n",
            keys.display().to_string()
        ),
    );
    project.write("fathom.schema.toml", schema);
    project
}

/// Every stored `notes` value and every outbox record copy of `tickets`, read raw from the
/// database from outside the server.
async fn stored_texts(project: &Project) -> Vec<String> {
    const SQL: &str = "SELECT \"notes\" FROM \"tickets\" WHERE \"notes\" IS NOT NULL \
                       UNION ALL SELECT \"record\" FROM \"_fathom_events\" \
                       WHERE \"collection\" = 'tickets' AND \"record\" IS NOT NULL";
    match &project.database {
        Some(database) => {
            let (client, connection) =
                tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
                    .await
                    .expect("connect");
            let connection = tokio::spawn(connection);
            let rows = client.query(SQL, &[]).await.expect("raw read");
            drop(client);
            let _ = connection.await;
            rows.iter().map(|r| r.get::<_, String>(0)).collect()
        }
        None => {
            let path = project.path().join("fathom_data").join("fathom.db");
            tokio::task::spawn_blocking(move || {
                let conn = rusqlite::Connection::open(path).expect("open");
                let mut statement = conn.prepare(SQL).expect("prepare");
                statement
                    .query_map([], |r| r.get::<_, String>(0))
                    .expect("query")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("rows")
            })
            .await
            .expect("reader")
        }
    }
}

/// SQLite's files (database, write-ahead log, shared memory), byte for byte.
fn sqlite_files_holding(project: &Project, needle: &str) -> Vec<String> {
    let dir = project.path().join("fathom_data");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("data dir").flatten() {
        if let Ok(bytes) = std::fs::read(entry.path())
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(entry.path().display().to_string());
        }
    }
    found
}

/// Asserts every record reads with the expected notes.
async fn assert_readable(http: &Http, expected: &BTreeMap<String, Option<String>>) {
    let (status, list) = http.get("/api/v1/tickets?limit=100").await;
    assert_eq!(status, 200, "{list}");
    let data = list["data"].as_array().expect("data");
    assert_eq!(data.len(), expected.len(), "{list}");
    for record in data {
        let id = record["id"].as_str().expect("id");
        let want = expected.get(id).expect("a known record");
        assert_eq!(
            record["notes"].as_str(),
            want.as_deref(),
            "record {id}: {record}"
        );
    }
}

/// The records an equality filter on `notes` finds.
async fn found_by_notes(http: &Http, value: &str) -> Vec<Value> {
    let filter = encode(&format!("notes = \"{value}\""));
    let (status, body) = http
        .get(&format!("/api/v1/tickets?filter={filter}&limit=100"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().expect("data").clone()
}

#[tokio::test]
async fn encryption_turned_on_then_off_converts_every_value_in_resumable_batches() {
    let project = Arc::new(project(PLAIN));
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let mut expected: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut ids = Vec::new();
    for n in 0..30 {
        let value = note("ticket", n);
        let created = http
            .create(
                "tickets",
                &json!({"title": format!("t{n}"), "notes": value}),
            )
            .await;
        let id = created["id"].as_str().expect("id").to_owned();
        ids.push(id.clone());
        expected.insert(id, Some(value));
    }
    let empty = http.create("tickets", &json!({"title": "no notes"})).await;
    expected.insert(empty["id"].as_str().expect("id").to_owned(), None);
    assert!(stop(&mut server).success());

    // The plan names the conversion, its row count and its risks; it is not unsafe.
    project.write("fathom.schema.toml", ENCRYPTED);
    let plan = project.cli(&["migrate", "plan", "--check"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("encrypt `notes` of `tickets`: the values of 31 records re-written"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("filling the blind index in the same batch")
            && plan.stdout.contains("online, resumable")
            && !plan.stdout.contains("[UNSAFE]"),
        "{}",
        plan.stdout
    );

    // Interrupted: the outbox's pass takes 6 batches of 7 (31 events, then an empty read), the
    // records' pass 2 of its batches, so 14 records are converted and 16 remain.
    let partial = project.cli(&["migrate", "apply", "--batch-size", "7", "--batches", "8"]);
    partial.expect_code(0);
    assert!(
        partial
            .stdout
            .contains("Conversion stopped after 8 batch(es)"),
        "{}\n{}",
        partial.stdout,
        partial.stderr
    );
    let status = project.cli(&["migrate", "status"]);
    assert!(
        status
            .stdout
            .contains("conversion pending: 16 records of `tickets`"),
        "{}",
        status.stdout
    );
    let keys = project.cli(&["keys", "status"]);
    assert!(
        keys.stdout
            .contains("tickets.notes: 16 values under key `(plaintext)`")
            && keys
                .stdout
                .contains("tickets.notes: 14 values under key `k1`"),
        "{}",
        keys.stdout
    );

    // A server in the mixed state serves every value, converted or not.
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    assert_readable(&http, &expected).await;
    assert_eq!(found_by_notes(&http, &note("ticket", 3)).await.len(), 1);

    // Resumed while a writer creates records and updates unconverted ones, until the
    // conversion is over (at least 15 rounds, at most 45, so a page of 100 lists them all).
    let converting = Arc::new(AtomicBool::new(true));
    let writer = {
        let http = Http::new(&server);
        let ids = ids.clone();
        let converting = Arc::clone(&converting);
        tokio::spawn(async move {
            let mut written = Vec::new();
            let mut n = 0;
            while n < 15 || (converting.load(Ordering::SeqCst) && n < 45) {
                let value = note("new", n);
                let created = http
                    .create("tickets", &json!({"title": "new", "notes": value}))
                    .await;
                written.push((created["id"].as_str().expect("id").to_owned(), value));
                let id = &ids[15 + n % 15];
                let value = note("patched", n);
                let (status, body) = http
                    .patch(&format!("/api/v1/tickets/{id}"), &json!({"notes": value}))
                    .await;
                assert_eq!(status, 200, "{body}");
                written.push((id.clone(), value));
                n += 1;
            }
            (written, n)
        })
    };
    let resumed = {
        let project = Arc::clone(&project);
        let converting = Arc::clone(&converting);
        tokio::task::spawn_blocking(move || {
            let run = project.cli(&["migrate", "apply", "--batch-size", "2"]);
            converting.store(false, Ordering::SeqCst);
            run
        })
    };
    let ((written, rounds), resumed) = (writer.await.expect("writer"), resumed.await.expect("cli"));
    resumed.expect_code(0);
    assert!(
        resumed.stdout.contains("Conversion done"),
        "{}\n{}",
        resumed.stdout,
        resumed.stderr
    );
    for (id, value) in written {
        expected.insert(id, Some(value));
    }
    // A last run finds nothing left (a value written behind the resumed run would be here).
    project.cli(&["migrate", "apply"]).expect_code(0);
    assert_readable(&http, &expected).await;
    let last_patched = expected[&ids[29]].clone().expect("a value");
    for value in [
        note("ticket", 3),
        note("ticket", 14),
        note("new", 7),
        last_patched,
    ] {
        let found = found_by_notes(&http, &value).await;
        assert_eq!(found.len(), 1, "{value}: {found:?}");
        assert_eq!(found[0]["notes"], value.as_str());
    }
    assert!(stop(&mut server).success());

    project.assert_nothing_pending();
    let keys = project.cli(&["keys", "status"]);
    assert!(!keys.stdout.contains("(plaintext)"), "{}", keys.stdout);
    let stored = stored_texts(&project).await;
    assert!(stored.len() > 40, "{stored:?}");
    for text in &stored {
        assert!(!text.contains(CANARY), "plaintext left behind: {text}");
    }
    if !on_postgres() {
        assert!(
            !sqlite_files_holding(&project, "fe1:k1:").is_empty(),
            "the files read hold the ciphertexts"
        );
        assert_eq!(
            sqlite_files_holding(&project, CANARY),
            Vec::<String>::new(),
            "the database file or its write-ahead log holds plaintext"
        );
    }

    // Off again: the plan warns that plaintext is stored; the values come back as plaintext.
    project.write("fathom.schema.toml", PLAIN);
    let plan = project.cli(&["migrate", "plan"]);
    assert!(
        plan.stdout
            .contains("decrypt `notes` of `tickets` (stores plaintext)")
            && plan.stdout.contains("plaintext lands in the database"),
        "{}",
        plan.stdout
    );
    // Interrupted again, after the outbox's pass (its events in batches of 20, then an empty
    // read) and one batch of records: 20 values are plaintext again, the others still
    // ciphertexts, which a server decrypts on read.
    let events = 31 + 2 * rounds;
    let batches = (events.div_ceil(20) + 2).to_string();
    let partial = project.cli(&[
        "migrate",
        "apply",
        "--batch-size",
        "20",
        "--batches",
        &batches,
    ]);
    partial.expect_code(0);
    let status = project.cli(&["migrate", "status"]);
    let left = 30 + rounds - 20;
    assert!(
        status.stdout.contains(&format!(
            "conversion pending: {left} records of `tickets` not yet in their target form (decrypting: notes)"
        )),
        "{}",
        status.stdout
    );
    let mut server = project.serve(&[]);
    assert_readable(&Http::new(&server), &expected).await;
    assert!(stop(&mut server).success());
    let off = project.cli(&["migrate", "apply", "--batch-size", "10"]);
    off.expect_code(0);
    assert!(off.stdout.contains("Conversion done"), "{}", off.stdout);
    project.assert_nothing_pending();
    let stored = stored_texts(&project).await;
    assert!(
        stored.iter().all(|t| !t.contains("fe1:")),
        "ciphertext left behind: {stored:?}"
    );
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    assert_readable(&http, &expected).await;
    assert_eq!(found_by_notes(&http, &note("new", 7)).await.len(), 1);
    assert!(stop(&mut server).success());
}

const ENCRYPTED_WITHOUT_INDEX: &str = r#"
[collections.tickets]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.notes = { type = "text", encrypted = true }
"#;

#[tokio::test]
async fn a_blind_index_added_to_an_encrypted_field_with_data_is_filled_in_batches() {
    let project = project(ENCRYPTED_WITHOUT_INDEX);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    for n in 0..12 {
        http.create(
            "tickets",
            &json!({"title": format!("t{n}"), "notes": note("ticket", n)}),
        )
        .await;
    }
    let filter = encode(&format!("notes = \"{}\"", note("ticket", 4)));
    let (status, refused) = http.get(&format!("/api/v1/tickets?filter={filter}")).await;
    assert_eq!(status, 400, "no blind index, no equality filter: {refused}");
    assert!(stop(&mut server).success());

    project.write("fathom.schema.toml", ENCRYPTED);
    let plan = project.cli(&["migrate", "plan", "--check"]);
    plan.expect_code(0);
    assert!(
        plan.stdout
            .contains("fill the blind index of `notes` of `tickets`: the values of 12 records"),
        "{}",
        plan.stdout
    );
    let applied = project.cli(&["migrate", "apply", "--batch-size", "5"]);
    applied.expect_code(0);
    assert!(
        applied
            .stdout
            .contains("Conversion done: 12 values converted"),
        "{}\n{}",
        applied.stdout,
        applied.stderr
    );
    project.assert_nothing_pending();
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    for n in [0, 4, 11] {
        let found = found_by_notes(&http, &note("ticket", n)).await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["title"], format!("t{n}"));
    }
    assert!(stop(&mut server).success());

    // Removing it again drops the column: nothing to convert, and the filter is refused again.
    project.write("fathom.schema.toml", ENCRYPTED_WITHOUT_INDEX);
    let plan = project.cli(&["migrate", "plan"]);
    assert!(
        plan.stdout
            .contains("drop the blind index of `notes` of `tickets`"),
        "{}",
        plan.stdout
    );
    project.cli(&["migrate", "apply"]).expect_code(0);
    project.assert_nothing_pending();
}
