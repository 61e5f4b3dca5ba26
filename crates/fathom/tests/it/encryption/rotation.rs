//! Online key rotation: a new data key writes at once (after a restart with the new key file),
//! and `Store::reseal_batch` (what `fathom keys rotate-data` runs) moves every older value to it
//! in batches while writes go on, every record readable throughout.

use std::sync::Arc;

use serde_json::json;

use super::support::{SCHEMA, spawn_encrypted, with_keys};
use crate::helpers::json_with_status;

#[tokio::test]
async fn rotation_moves_every_value_to_the_new_key_while_writes_go_on() {
    let (app, _keys, path) = spawn_encrypted().await;
    for n in 0..30 {
        app.create(
            "people",
            &json!({"name": format!("p{n}"), "email": format!("p{n}@example.com"), "ssn": format!("ssn-{n}")}),
        )
        .await;
    }
    // A second data key, last in the file: it writes from the next start.
    let second = fathom_store::KeyRing::generate_file("k2").expect("random");
    let line = second
        .lines()
        .find(|l| l.starts_with("data "))
        .expect("data line");
    let mut text = std::fs::read_to_string(&path).expect("key file");
    text.push_str(line);
    text.push('\n');
    std::fs::write(&path, text).expect("write key file");
    let app = app.restart_with(SCHEMA, with_keys(&path)).await;
    let created = app
        .create("people", &json!({"name": "new", "ssn": "ssn-new"}))
        .await;
    assert_eq!(created["ssn"], "ssn-new");

    // Writers keep updating and creating while the rotation runs.
    let writer = {
        let client = app.client.clone();
        let base = app.url("/api/v1/people");
        tokio::spawn(async move {
            for n in 0..20 {
                let body = json!({"name": format!("w{n}"), "ssn": format!("w-{n}")});
                let response = client.post(&base).json(&body).send().await.expect("sent");
                assert_eq!(response.status(), 201);
            }
        })
    };
    let collection = Arc::clone(app.schema.collection("people").expect("people"));
    let mut rounds = 0;
    loop {
        let list = json_with_status(app.get("/api/v1/people?limit=100").await, 200).await;
        assert!(
            list["data"].as_array().is_some_and(|d| d.len() >= 31),
            "{list}"
        );
        let rows = app
            .store
            .reseal_batch(Arc::clone(&collection), 7)
            .await
            .expect("a batch");
        rounds += 1;
        if rows == 0 {
            break;
        }
    }
    writer.await.expect("writer");
    assert!(
        rounds >= 5,
        "30 records in batches of 7 take several rounds: {rounds}"
    );
    let usage = app.store.key_usage(&app.schema).await.expect("usage");
    assert!(usage.iter().all(|u| u.key == "k2"), "{usage:?}");
    let list = json_with_status(app.get("/api/v1/people?limit=100&sort=name").await, 200).await;
    let data = list["data"].as_array().expect("data");
    assert_eq!(data.len(), 51);
    let p7 = data.iter().find(|r| r["name"] == "p7").expect("p7");
    assert_eq!(p7["ssn"], "ssn-7");
    assert_eq!(p7["version"], 1, "rotation does not change a record: {p7}");
    // The blind index still finds rotated values (it does not depend on the data key).
    let found = json_with_status(
        app.get("/api/v1/people?filter=email%20%3D%20%22p7%40example.com%22")
            .await,
        200,
    )
    .await;
    assert_eq!(found["data"][0]["name"], "p7", "{found}");
    app.stop().await;
}
