//! `Idempotency-Key` on writes: a retry replays the first response (`Idempotent-Replayed:
//! true`) and writes nothing; the same key on another request is 422; keys are per caller;
//! 50 concurrent POSTs with one key make one record and identical answers; replays survive a
//! restart; keys expire after `idempotency.ttl_secs`; malformed keys are 400.

use std::sync::Arc;

use serde_json::{Value, json};

use super::conditional::SCHEMA;
use crate::helpers::{
    TestApp, assert_problem, json_with_status, mint_user, spawn_app, spawn_app_with,
};

fn replayed(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn send_keyed(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("idempotency-key", key);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request sent")
}

async fn count(app: &TestApp, collection: &str) -> u64 {
    json_with_status(
        app.get(&format!("/api/v1/{collection}?count=true&limit=1"))
            .await,
        200,
    )
    .await["meta"]["page"]["total"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_retried_create_replays_the_first_response_and_creates_nothing() {
    let app = spawn_app(SCHEMA).await;
    let key = "\"create-1\"";
    let body = json!({"body": "once"});
    let first = send_keyed(
        &app,
        reqwest::Method::POST,
        "/api/v1/notes",
        key,
        Some(&body),
    )
    .await;
    assert!(!replayed(&first));
    let (location, etag) = (
        first.headers()["location"].clone(),
        first.headers()["etag"].clone(),
    );
    let first_body = json_with_status(first, 201).await;

    // Whitespace and key order do not make another request: the body is compared as JSON.
    let again = app
        .client
        .post(app.url("/api/v1/notes"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body("{ \"body\" :  \"once\" }")
        .send()
        .await
        .unwrap();
    assert!(replayed(&again), "marked as a replay");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["etag"], etag);
    assert_eq!(again.headers()["content-type"], "application/json");
    let again_body = json_with_status(again, 201).await;
    assert_eq!(again_body, first_body, "the same body, request id included");
    assert_eq!(count(&app, "notes").await, 1);

    // Without a key, the same request creates again.
    json_with_status(app.post_json("/api/v1/notes", &body).await, 201).await;
    assert_eq!(count(&app, "notes").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_422_and_writes_nothing() {
    let app = spawn_app(SCHEMA).await;
    let key = "\"reuse-me\"";
    let created = json_with_status(
        send_keyed(
            &app,
            reqwest::Method::POST,
            "/api/v1/notes",
            key,
            Some(&json!({"body": "a"})),
        )
        .await,
        201,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let other_body = send_keyed(
        &app,
        reqwest::Method::POST,
        "/api/v1/notes",
        key,
        Some(&json!({"body": "b"})),
    )
    .await;
    let problem = assert_problem(other_body, 422, "idempotency_key_reused").await;
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    // Another endpoint (collection, record, method) with the same key.
    let elsewhere = send_keyed(
        &app,
        reqwest::Method::POST,
        "/api/v1/drafts",
        key,
        Some(&json!({"body": "a"})),
    )
    .await;
    assert_problem(elsewhere, 422, "idempotency_key_reused").await;
    let patch = send_keyed(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/notes/{id}"),
        key,
        Some(&json!({"body": "a"})),
    )
    .await;
    assert_problem(patch, 422, "idempotency_key_reused").await;
    let delete = send_keyed(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/notes/{id}"),
        key,
        None,
    )
    .await;
    assert_problem(delete, 422, "idempotency_key_reused").await;
    assert_eq!(count(&app, "notes").await, 1);
    assert_eq!(count(&app, "drafts").await, 0);
    let stored = json_with_status(app.get(&format!("/api/v1/notes/{id}")).await, 200).await;
    assert_eq!(stored["data"]["version"], 1);
    app.stop().await;
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app(SCHEMA).await;
    let (alice_id, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (bob_id, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let key = "\"shared-key\"";
    let post = |token: String, owner: uuid::Uuid| {
        let app = &app;
        async move {
            app.anonymous
                .post(app.url("/api/v1/diaries"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&json!({"owner": owner.to_string(), "body": "dear diary"}))
                .send()
                .await
                .unwrap()
        }
    };
    let alices = post(alice.clone(), alice_id).await;
    assert!(!replayed(&alices));
    let alices = json_with_status(alices, 201).await;
    // Bob's request with Alice's key is Bob's own: it runs, and never sees Alice's answer.
    let bobs = post(bob.clone(), bob_id).await;
    assert!(!replayed(&bobs));
    let bobs = json_with_status(bobs, 201).await;
    assert_ne!(alices["data"]["id"], bobs["data"]["id"]);
    let again = post(alice, alice_id).await;
    assert!(replayed(&again));
    assert_eq!(json_with_status(again, 201).await, alices);

    // Anonymous callers have no scope to keep keys in.
    let anonymous = app
        .anonymous
        .post(app.url("/api/v1/notes"))
        .header("idempotency-key", key)
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(anonymous, 400, "invalid_idempotency_key").await;
    assert_eq!(problem["errors"][0]["code"], "anonymous");
    app.stop().await;
}

#[tokio::test]
async fn malformed_keys_are_400_with_a_reason() {
    let app = spawn_app(SCHEMA).await;
    let long = format!("\"{}\"", "k".repeat(256));
    let longest = format!("\"{}\"", "k".repeat(255));
    for (key, reason) in [
        ("unquoted", "malformed"),
        ("\"\"", "empty"),
        (long.as_str(), "too_long"),
        ("\"a\"b\"", "malformed"),
        ("\"bad \\n escape\"", "malformed"),
        ("\"k\";param=1", "malformed"),
    ] {
        let response = send_keyed(
            &app,
            reqwest::Method::POST,
            "/api/v1/notes",
            key,
            Some(&json!({"body": "x"})),
        )
        .await;
        let problem = assert_problem(response, 400, "invalid_idempotency_key").await;
        assert_eq!(problem["errors"][0]["code"], reason, "{key}");
    }
    let two = app
        .client
        .post(app.url("/api/v1/notes"))
        .header("idempotency-key", "\"a\"")
        .header("idempotency-key", "\"b\"")
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(two, 400, "invalid_idempotency_key").await;
    assert_eq!(problem["errors"][0]["code"], "repeated");
    assert_eq!(count(&app, "notes").await, 0);
    // 255 characters, and escapes, are fine.
    for key in [longest.as_str(), "\"quote \\\" and backslash \\\\\""] {
        let response = send_keyed(
            &app,
            reqwest::Method::POST,
            "/api/v1/notes",
            key,
            Some(&json!({"body": "x"})),
        )
        .await;
        json_with_status(response, 201).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn patch_delete_and_batch_replay_too() {
    let app = spawn_app(SCHEMA).await;
    let note = app.create("notes", &json!({"body": "a"})).await;
    let path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    let patch = json!({"body": "b"});
    let first = json_with_status(
        send_keyed(&app, reqwest::Method::PATCH, &path, "\"p\"", Some(&patch)).await,
        200,
    )
    .await;
    let again = send_keyed(&app, reqwest::Method::PATCH, &path, "\"p\"", Some(&patch)).await;
    assert!(replayed(&again));
    assert_eq!(json_with_status(again, 200).await, first);
    assert_eq!(first["data"]["version"], 2, "patched once");

    let deleted = send_keyed(&app, reqwest::Method::DELETE, &path, "\"d\"", None).await;
    assert_eq!(deleted.status(), 204);
    let again = send_keyed(&app, reqwest::Method::DELETE, &path, "\"d\"", None).await;
    assert!(replayed(&again));
    assert_eq!(again.status(), 204, "a retried delete is not a 404");

    let batch =
        json!({"operations": [{"op": "create", "collection": "notes", "body": {"body": "c"}}]});
    let first = json_with_status(
        send_keyed(
            &app,
            reqwest::Method::POST,
            "/api/v1/batch",
            "\"b\"",
            Some(&batch),
        )
        .await,
        200,
    )
    .await;
    let again = send_keyed(
        &app,
        reqwest::Method::POST,
        "/api/v1/batch",
        "\"b\"",
        Some(&batch),
    )
    .await;
    assert!(replayed(&again));
    assert_eq!(json_with_status(again, 200).await, first);
    assert_eq!(count(&app, "notes").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_posts_with_one_key_make_one_record() {
    let app = Arc::new(spawn_app(SCHEMA).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, barrier) = (app.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let request = app
                .client
                .post(app.url("/api/v1/notes"))
                .header("idempotency-key", "\"racing\"")
                .json(&json!({"body": "one of fifty"}));
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let replay = replayed(&response);
            (status, replay, response.text().await.unwrap())
        }));
    }
    let mut bodies = Vec::new();
    let (mut fresh, mut in_flight) = (0, 0);
    for task in tasks {
        let (status, replay, text) = task.await.unwrap();
        match status {
            201 => {
                if !replay {
                    fresh += 1;
                }
                bodies.push(text);
            }
            409 => {
                assert!(text.contains("idempotency_key_in_flight"), "{text}");
                in_flight += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert_eq!(
        fresh, 1,
        "one request wrote; the rest replayed or were told to retry"
    );
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every 201 is the same answer"
    );
    assert_eq!(bodies.len() + in_flight, 50);
    assert_eq!(count(&app, "notes").await, 1, "exactly one record");
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every request has finished")
    };
    app.stop().await;
}

#[tokio::test]
async fn replays_survive_a_restart() {
    let app = spawn_app(SCHEMA).await;
    let body = json!({"body": "durable"});
    let first = json_with_status(
        send_keyed(
            &app,
            reqwest::Method::POST,
            "/api/v1/notes",
            "\"k\"",
            Some(&body),
        )
        .await,
        201,
    )
    .await;
    let app = app.restart(SCHEMA).await;
    let again = send_keyed(
        &app,
        reqwest::Method::POST,
        "/api/v1/notes",
        "\"k\"",
        Some(&body),
    )
    .await;
    assert!(replayed(&again));
    assert_eq!(json_with_status(again, 201).await, first);
    assert_eq!(count(&app, "notes").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn keys_expire_after_their_time_to_live() {
    let app = spawn_app_with(SCHEMA, |c| c.idempotency.ttl_secs = 1).await;
    let body = json!({"body": "short-lived"});
    let send = || {
        send_keyed(
            &app,
            reqwest::Method::POST,
            "/api/v1/notes",
            "\"ttl\"",
            Some(&body),
        )
    };
    json_with_status(send().await, 201).await;
    assert!(replayed(&send().await));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let after = send().await;
    assert!(!replayed(&after), "an expired key is forgotten");
    json_with_status(after, 201).await;
    assert_eq!(count(&app, "notes").await, 2);
    // Pruning removes what expired.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(
        app.store
            .prune_idempotency(std::time::Duration::from_secs(1))
            .await
            .unwrap()
            >= 1
    );
    app.stop().await;
}
