//! Plaintext never reaches the database: the tables, the write-ahead log and the outbox hold
//! ciphertext (greped for on SQLite's files; read back raw on both databases), while readers
//! who may see the field get plaintext.

use serde_json::json;

use super::support::{EMAIL, SSN, SSN_CHANGED, spawn_encrypted};
use crate::helpers::{json_with_status, on_postgres};

/// Every file under `dir` (the database, its WAL and shared memory), as bytes.
fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn readers_get_plaintext_while_tables_wal_and_outbox_hold_ciphertext() {
    let (app, _keys, _path) = spawn_encrypted().await;
    let created = app
        .create(
            "people",
            &json!({"name": "Canary", "email": EMAIL, "ssn": SSN}),
        )
        .await;
    assert_eq!(created["ssn"], SSN);
    assert_eq!(created["email"], EMAIL);
    let id = created["id"].as_str().expect("id").to_owned();

    let read = json_with_status(app.get(&format!("/api/v1/people/{id}")).await, 200).await;
    assert_eq!(read["data"]["ssn"], SSN, "{read}");
    assert_eq!(read["data"]["email"], EMAIL, "{read}");
    let updated = json_with_status(
        app.patch_json(
            &format!("/api/v1/people/{id}"),
            &json!({"ssn": SSN_CHANGED}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["data"]["ssn"], SSN_CHANGED, "{updated}");
    let list = json_with_status(app.get("/api/v1/people").await, 200).await;
    assert_eq!(list["data"][0]["ssn"], SSN_CHANGED, "{list}");

    // The change feed is a reader that may see the record: plaintext.
    let feed = json_with_status(app.get("/api/v1/events?after=0").await, 200).await;
    let people: Vec<&serde_json::Value> = feed["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["collection"] == "people")
        .collect();
    assert_eq!(people.len(), 2, "{feed}");
    assert_eq!(people[0]["record"]["ssn"], SSN, "{feed}");
    assert_eq!(people[1]["record"]["ssn"], SSN_CHANGED, "{feed}");

    // The outbox itself holds the ciphertext, on both databases.
    let raw = app.store.events_after(0, 100, None).await.expect("outbox");
    let raw_people: Vec<_> = raw
        .events
        .iter()
        .filter(|e| e.collection == "people")
        .collect();
    assert_eq!(raw_people.len(), 2);
    for event in &raw_people {
        let record = event.record.as_ref().expect("record");
        let stored = serde_json::Value::Object(record.clone()).to_string();
        for plain in [SSN, SSN_CHANGED, EMAIL] {
            assert!(!stored.contains(plain), "outbox holds plaintext: {stored}");
        }
        assert!(
            record["ssn"]
                .as_str()
                .is_some_and(|s| s.starts_with("fe1:k1:")),
            "{stored}"
        );
    }

    // The tables hold values under key k1 only (the raw column, read on either database).
    let usage = app.store.key_usage(&app.schema).await.expect("key usage");
    let keys: Vec<(&str, &str, u64)> = usage
        .iter()
        .map(|u| (u.field.as_str(), u.key.as_str(), u.values))
        .collect();
    assert_eq!(keys, vec![("email", "k1", 1), ("ssn", "k1", 1)]);

    if !on_postgres() {
        // SQLite: the database file, its write-ahead log and shared memory, byte for byte.
        let stored = files(app.data_dir.path());
        assert!(
            stored.iter().any(|(name, _)| name.ends_with("-wal")),
            "the WAL is among the files read: {:?}",
            stored.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        assert!(stored.iter().any(|(_, bytes)| contains(bytes, "fe1:k1:")));
        for (name, bytes) in &stored {
            for plain in [SSN, SSN_CHANGED, EMAIL] {
                assert!(
                    !contains(bytes, plain),
                    "{name} holds the plaintext {plain}"
                );
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_record_does_not_decrypt() {
    let (app, _keys, _path) = spawn_encrypted().await;
    let a = app
        .create("people", &json!({"name": "A", "ssn": SSN}))
        .await;
    let b = app
        .create("people", &json!({"name": "B", "ssn": "other"}))
        .await;
    // Read A's stored ciphertext from the outbox and write it as B's plaintext would be
    // written: the store seals it again, so B reads back the ciphertext text, never A's value.
    let raw = app.store.events_after(0, 10, None).await.expect("outbox");
    let stolen = raw.events[0].record.as_ref().expect("record")["ssn"]
        .as_str()
        .expect("ciphertext")
        .to_owned();
    let keys = app.store.key_ring().expect("keys");
    let a_id = a["id"].as_str().expect("id");
    let b_id = b["id"].as_str().expect("id");
    assert_eq!(
        keys.open("people", "ssn", a_id, &stolen)
            .expect("opens in place"),
        SSN
    );
    assert!(keys.open("people", "ssn", b_id, &stolen).is_err());
    assert!(keys.open("people", "name", a_id, &stolen).is_err());
    app.stop().await;
}
