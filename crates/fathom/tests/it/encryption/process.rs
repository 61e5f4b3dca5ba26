//! The demo as a process: it creates a development key file in its data directory, encrypts
//! `customers.phone` (blind-indexed) and `customers.notes`, and its logs never carry their
//! plaintext, whatever the requests do with them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{database_env, scratch_database, spawn_server_process_with_env};
use crate::query::support::encode;

const PHONE: &str = "+1 555 0100 canary";
const NOTES: &str = "notes-canary-5521 do not log";
const LONG_PHONE: &str = "phone-canary-that-is-far-too-long-for-the-field-0042";

#[tokio::test]
async fn the_demo_encrypts_with_a_development_key_and_logs_no_plaintext() {
    let dir = tempfile::tempdir().expect("dir");
    let database = scratch_database().await;
    let env = database_env(database.as_ref());
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("FATHOM_LOG__LEVEL", "debug"));
    let server = spawn_server_process_with_env(dir.path(), &["--demo"], &env);
    let key_file = dir.path().join("fathom_data").join("demo-encryption.keys");
    let keys = std::fs::read_to_string(&key_file).expect("the demo made its key file");
    assert!(
        keys.lines().any(|l| l.starts_with("data demo-1 ")),
        "{keys}"
    );

    let http = crate::helpers::client_builder()
        .build()
        .expect("an HTTP client");
    let url = |path: &str| server.url(path);
    let login: Value = http
        .post(url("/api/v1/auth/login"))
        .json(
            &json!({"email": fathom::demo::ADMIN_EMAIL, "password": fathom::demo::ADMIN_PASSWORD}),
        )
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let send = |request: reqwest::RequestBuilder| {
        let token = token.clone();
        async move {
            let response = request.bearer_auth(token).send().await.expect("sent");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let customer = json!({
        "email": "log.canary@example.com", "name": "Log Canary", "tenant": fathom::demo::DEMO_TENANT,
        "phone": PHONE, "notes": NOTES,
    });
    let (status, created) = send(http.post(url("/api/v1/customers")).json(&customer)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["phone"], PHONE);
    assert_eq!(created["data"]["notes"], NOTES);
    let filter = encode(&format!("phone = \"{PHONE}\""));
    let (status, found) = send(http.get(url(&format!("/api/v1/customers?filter={filter}")))).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");
    let filter = encode(&format!("notes = \"{NOTES}\""));
    let (status, _) = send(http.get(url(&format!("/api/v1/customers?filter={filter}")))).await;
    assert_eq!(status, 400);
    let mut too_long = customer.clone();
    too_long["phone"] = json!(LONG_PHONE);
    too_long["email"] = json!("other.canary@example.com");
    let (status, refused) = send(http.post(url("/api/v1/customers")).json(&too_long)).await;
    assert_eq!(status, 400, "{refused}");

    tokio::time::sleep(Duration::from_millis(400)).await;
    server.terminate();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let logs = serde_json::to_string(&server.logs_containing("")).expect("logs");
    assert!(logs.len() > 100, "the log was read: {logs}");
    for plain in [PHONE, NOTES, LONG_PHONE] {
        assert!(!logs.contains(plain), "the log holds {plain}: {logs}");
    }
}
