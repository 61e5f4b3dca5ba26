//! API keys: created by an administrator (shown once, stored as a hash with a visible prefix),
//! scoped to collections and operations, optionally confined to a tenant, never administrators,
//! revocable at once, and audited.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, json_with_status, mint_member, mint_user, send_as, spawn_app,
};

const SCHEMA: &str = r#"
[collections.posts]
fields.title  = { type = "text", required = true }
fields.secret = { type = "text", hidden = true }

[collections.notes]
tenant_scoped = true
fields.body = { type = "text", required = true }
"#;

async fn create_key(app: &TestApp, body: Value) -> Value {
    json_with_status(app.post_json("/api/v1/admin/api-keys", &body).await, 201).await["data"]
        .clone()
}

fn key_of(created: &Value) -> String {
    created["key"]
        .as_str()
        .expect("the key is shown once")
        .to_owned()
}

#[tokio::test]
async fn a_key_is_shown_once_and_stored_only_as_a_hash_with_its_prefix() {
    let app = spawn_app(SCHEMA).await;
    let created = create_key(
        &app,
        json!({"name": "reporting", "scopes": ["posts:list, view"]}),
    )
    .await;
    let key = key_of(&created);
    let prefix = created["prefix"].as_str().expect("prefix");
    assert!(key.starts_with(&format!("fth_{prefix}_")), "{key}");
    assert_eq!(created["scopes"], json!(["posts:list,view"]));
    assert_eq!(created["tenant"], Value::Null);

    let listed = json_with_status(app.get("/api/v1/admin/api-keys").await, 200).await;
    assert_eq!(listed["data"][0]["prefix"], prefix);
    assert!(listed["data"][0].get("key").is_none());
    assert!(
        !listed.to_string().contains(&key[12..]),
        "no secret in the list"
    );
    let stored = app.store.api_keys().await.expect("keys");
    assert_ne!(stored[0].hash, key);
    assert!(
        !format!("{stored:?}").contains(&key[12..]),
        "no secret at rest"
    );
    let audit = app.store.audit_log(20).await.expect("audit");
    assert!(audit.iter().any(|r| r.entry.action == "api_key_created"));
    assert!(
        !format!("{audit:?}").contains(&key[12..]),
        "no secret in the audit log"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_key_may_do_exactly_what_its_scopes_name() {
    let app = spawn_app(SCHEMA).await;
    let post = app
        .create("posts", &json!({"title": "Hello", "secret": "s3"}))
        .await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().expect("id"));
    let key = key_of(
        &create_key(
            &app,
            json!({"name": "reader", "scopes": ["posts:list,view"]}),
        )
        .await,
    );

    let listed = json_with_status(
        send_as(&app, "GET", "/api/v1/posts", Some(&key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["data"][0]["title"], "Hello");
    assert!(
        listed["data"][0].get("secret").is_none(),
        "hidden fields are for administrators only"
    );
    json_with_status(send_as(&app, "GET", &path, Some(&key), None).await, 200).await;
    for (method, target, body) in [
        ("POST", "/api/v1/posts", Some(json!({"title": "x"}))),
        ("PATCH", path.as_str(), Some(json!({"title": "x"}))),
        ("DELETE", path.as_str(), None),
        ("GET", "/api/v1/notes", None),
    ] {
        let refused = assert_problem(
            send_as(&app, method, target, Some(&key), body).await,
            403,
            "forbidden",
        )
        .await;
        assert!(
            refused["hint"].as_str().expect("hint").contains("scope"),
            "{refused}"
        );
    }
    // Filtering on a hidden field is refused as for any non-administrator.
    assert_problem(
        send_as(
            &app,
            "GET",
            "/api/v1/posts?filter=secret%20%3D%20%22s3%22",
            Some(&key),
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    // A key is never an administrator, nor a user.
    for target in [
        "/api/v1/admin/users",
        "/api/v1/admin/api-keys",
        "/api/v1/auth/me",
    ] {
        assert_problem(
            send_as(&app, "GET", target, Some(&key), None).await,
            401,
            "unauthorized",
        )
        .await;
    }
    let writer = key_of(&create_key(&app, json!({"name": "writer", "scopes": ["*:*"]})).await);
    json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/posts",
            Some(&writer),
            Some(json!({"title": "By a service"})),
        )
        .await,
        201,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_key_reaches_only_its_tenant_and_a_tenantless_key_names_the_tenant() {
    let app = spawn_app(SCHEMA).await;
    let acme = key_of(
        &create_key(
            &app,
            json!({"name": "acme sync", "scopes": ["notes:*"], "tenant": "acme"}),
        )
        .await,
    );
    let global = key_of(&create_key(&app, json!({"name": "global", "scopes": ["notes:*"]})).await);
    let mine = json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&acme),
            Some(json!({"body": "a"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(mine["data"]["tenant"], "acme");
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&global),
            Some(json!({"body": "b"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let theirs = json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&global),
            Some(json!({"body": "b", "tenant": "globex"})),
        )
        .await,
        201,
    )
    .await;
    let seen = json_with_status(
        send_as(&app, "GET", "/api/v1/notes", Some(&acme), None).await,
        200,
    )
    .await;
    assert_eq!(seen["data"].as_array().expect("array").len(), 1);
    let path = format!(
        "/api/v1/notes/{}",
        theirs["data"]["id"].as_str().expect("id")
    );
    assert_problem(
        send_as(&app, "GET", &path, Some(&acme), None).await,
        404,
        "record_not_found",
    )
    .await;
    // The tenant-bound key may not name another tenant: `tenant` is a system field to it.
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&acme),
            Some(json!({"body": "c", "tenant": "globex"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn revoked_forged_and_malformed_keys_are_refused() {
    let app = spawn_app(SCHEMA).await;
    let created = create_key(&app, json!({"name": "doomed", "scopes": ["posts:list"]})).await;
    let key = key_of(&created);
    json_with_status(
        send_as(&app, "GET", "/api/v1/posts", Some(&key), None).await,
        200,
    )
    .await;

    let mut forged = key.clone();
    let last = forged.pop().expect("a character");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let unknown_prefix = format!("fth_zzzzzzzz_{}", &key[13..]);
    for bad in [
        forged.as_str(),
        unknown_prefix.as_str(),
        "fth_",
        "fth_short_key",
    ] {
        assert_problem(
            send_as(&app, "GET", "/api/v1/posts", Some(bad), None).await,
            401,
            "unauthorized",
        )
        .await;
    }

    let path = format!(
        "/api/v1/admin/api-keys/{}",
        created["id"].as_str().expect("id")
    );
    assert_eq!(app.delete(&path).await.status(), 204);
    let refused = assert_problem(
        send_as(&app, "GET", "/api/v1/posts", Some(&key), None).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("revoked")
    );
    assert_problem(app.delete(&path).await, 404, "record_not_found").await;
    assert_problem(
        app.delete("/api/v1/admin/api-keys/not-a-uuid").await,
        404,
        "record_not_found",
    )
    .await;
    let audit = app.store.audit_log(20).await.expect("audit");
    assert!(audit.iter().any(|r| r.entry.action == "api_key_revoked"));
    app.stop().await;
}

#[tokio::test]
async fn only_administrators_manage_keys_and_bad_requests_are_400s() {
    let app = spawn_app(SCHEMA).await;
    let (_, user) = mint_user(&app.store, &app.auth, "u@example.com", &["user"]).await;
    let (_, member) = mint_member(&app.store, &app.auth, "m@example.com", &[], Some("acme")).await;
    let body = json!({"name": "x", "scopes": ["posts:list"]});
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/admin/api-keys",
            None,
            Some(body.clone()),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    for token in [&user, &member] {
        for (method, body) in [("POST", Some(body.clone())), ("GET", None)] {
            assert_problem(
                send_as(&app, method, "/api/v1/admin/api-keys", Some(token), body).await,
                403,
                "forbidden",
            )
            .await;
        }
    }
    for (bad, field) in [
        (json!({"scopes": ["posts:list"]}), "name"),
        (json!({"name": "", "scopes": ["posts:list"]}), "name"),
        (json!({"name": "x"}), "scopes"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x", "scopes": ["posts"]}), "scopes"),
        (json!({"name": "x", "scopes": ["posts:read"]}), "scopes"),
        (json!({"name": "x", "scopes": ["nothing:list"]}), "scopes"),
        (json!({"name": "x", "scopes": [7]}), "scopes"),
        (
            json!({"name": "x", "scopes": ["posts:list"], "tenant": ""}),
            "tenant",
        ),
        (
            json!({"name": "x", "scopes": ["posts:list"], "admin": true}),
            "admin",
        ),
    ] {
        let problem = assert_problem(
            app.post_json("/api/v1/admin/api-keys", &bad).await,
            400,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{bad}");
    }
    app.stop().await;
}
