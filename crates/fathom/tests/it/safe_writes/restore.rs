//! `POST /api/v1/{collection}/{id}/restore`: a soft-deleted record comes back with a new
//! version and a `restore` event; the collection's delete rule decides who may; tenants stay
//! apart; a unique value taken meanwhile is 409; collections without soft delete have nothing to
//! restore.

use serde_json::json;

use super::conditional::{SCHEMA, create, etag_of};
use crate::helpers::{assert_problem, json_with_status, mint_user, spawn_app};

const TENANT_SCHEMA: &str = r#"
[collections.pages]
soft_delete = true
tenant_scoped = true
rules = { list = true, view = true, create = true, update = true, delete = "owner = auth.id" }
fields.owner = { type = "uuid", required = true }
fields.slug  = { type = "text", required = true, unique = true }
"#;

#[tokio::test]
async fn a_soft_deleted_record_is_restored_with_a_new_version_and_an_event() {
    let app = spawn_app(SCHEMA).await;
    let (id, _) = create(&app, "drafts", json!({"body": "keep me"})).await;
    let path = format!("/api/v1/drafts/{id}");
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_problem(app.get(&path).await, 404, "record_not_found").await;

    // Not deleted any more after this; the version counts the delete and the restore.
    let restored = app.post_json(&format!("{path}/restore"), &json!({})).await;
    assert_eq!(etag_of(&restored), format!("\"{id}.3\""));
    let restored = json_with_status(restored, 200).await;
    assert_eq!(restored["data"]["body"], "keep me");
    assert_eq!(restored["data"]["version"], 3);
    json_with_status(app.get(&path).await, 200).await;

    // A live record has nothing to restore.
    let again = app.post_json(&format!("{path}/restore"), &json!({})).await;
    assert_problem(again, 404, "record_not_found").await;

    // A collection without soft delete has no restore.
    let (note, _) = create(&app, "notes", json!({"body": "x"})).await;
    let none = app
        .post_json(&format!("/api/v1/notes/{note}/restore"), &json!({}))
        .await;
    assert_problem(none, 404, "route_not_found").await;

    let events = json_with_status(app.get("/api/v1/events?after=0").await, 200).await;
    let operations: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["record_id"] == id.as_str() || e["recordId"] == id.as_str())
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["create", "delete", "restore"], "{events}");
    app.stop().await;
}

#[tokio::test]
async fn restore_follows_the_delete_rule_tenancy_and_uniqueness() {
    let app = spawn_app(TENANT_SCHEMA).await;
    let (alice_id, alice) = crate::helpers::mint_member(
        &app.store,
        &app.auth,
        "alice@example.com",
        &["user"],
        Some("shop-a"),
    )
    .await;
    let (_, bob) = crate::helpers::mint_member(
        &app.store,
        &app.auth,
        "bob@example.com",
        &["user"],
        Some("shop-a"),
    )
    .await;
    let (_, carol) = crate::helpers::mint_member(
        &app.store,
        &app.auth,
        "carol@example.com",
        &["user"],
        Some("shop-b"),
    )
    .await;
    let send = |token: &str, method: reqwest::Method, path: String| {
        app.anonymous
            .request(method, app.url(&path))
            .bearer_auth(token.to_owned())
            .json(&json!({}))
            .send()
    };
    let created = json_with_status(
        app.anonymous
            .post(app.url("/api/v1/pages"))
            .bearer_auth(&alice)
            .json(&json!({"owner": alice_id.to_string(), "slug": "home"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/pages/{id}");
    assert_eq!(
        send(&alice, reqwest::Method::DELETE, path.clone())
            .await
            .unwrap()
            .status(),
        204
    );
    let restore = format!("{path}/restore");
    // Bob (same tenant, not the owner) and Carol (another tenant) cannot restore it.
    for token in [&bob, &carol] {
        let response = send(token, reqwest::Method::POST, restore.clone())
            .await
            .unwrap();
        assert_problem(response, 404, "record_not_found").await;
    }
    // Meanwhile another page took the slug: restoring would break uniqueness.
    json_with_status(
        app.anonymous
            .post(app.url("/api/v1/pages"))
            .bearer_auth(&bob)
            .json(&json!({"owner": alice_id.to_string(), "slug": "home"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let taken = send(&alice, reqwest::Method::POST, restore.clone())
        .await
        .unwrap();
    assert_problem(taken, 409, "unique_violation").await;
    let _ = mint_user;
    app.stop().await;
}

#[tokio::test]
async fn administrators_list_deleted_records_and_no_one_else_does() {
    let app = spawn_app(SCHEMA).await;
    let (kept, _) = create(&app, "drafts", json!({"body": "kept"})).await;
    let (gone, _) = create(&app, "drafts", json!({"body": "gone"})).await;
    assert_eq!(
        app.delete(&format!("/api/v1/drafts/{gone}")).await.status(),
        204
    );
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let live = json_with_status(app.get("/api/v1/drafts?count=true").await, 200).await;
    assert_eq!(ids(&live), std::slice::from_ref(&kept));
    let only = json_with_status(app.get("/api/v1/drafts?deleted=only&count=true").await, 200).await;
    assert_eq!(ids(&only), std::slice::from_ref(&gone));
    assert_eq!(only["meta"]["page"]["total"], 1);
    let all = json_with_status(app.get("/api/v1/drafts?deleted=include").await, 200).await;
    assert_eq!(ids(&all), [kept, gone]);

    let (_, user) = mint_user(&app.store, &app.auth, "user@example.com", &["user"]).await;
    let refused = app
        .anonymous
        .get(app.url("/api/v1/drafts?deleted=only"))
        .bearer_auth(user)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "forbidden").await;
    assert_problem(
        app.get("/api/v1/drafts?deleted=maybe").await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/api/v1/notes?deleted=only").await,
        400,
        "invalid_query",
    )
    .await;
    app.stop().await;
}
