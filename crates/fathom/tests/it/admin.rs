//! Administration: every admin route refuses anonymous (401) and non-admin (403) callers; an
//! administrator manages users, and disabling a user ends their sessions at once.

use fathom_auth::{PasswordHasher, PasswordParams};
use fathom_store::NewUser;
use serde_json::json;

use crate::helpers::{TEST_SCHEMA, TestApp, assert_problem, json_with_status, send_as, spawn_app};

const PASSWORD: &str = "a long and unusual passphrase 2026";

/// Creates a user directly in the store (as `fathom users create-admin` does) with `roles`.
async fn user(app: &TestApp, email: &str, roles: &[&str]) {
    let hasher = PasswordHasher::new(PasswordParams::default(), 2).unwrap();
    let hash = hasher.hash(PASSWORD).await.unwrap();
    let roles = roles.iter().map(|r| (*r).to_owned()).collect();
    app.store
        .create_user(NewUser {
            email: email.into(),
            password_hash: hash,
            roles,
            tenant: None,
            verified: true,
        })
        .await
        .unwrap();
}

/// Logs in and returns (access token, refresh token).
async fn login(app: &TestApp, email: &str) -> (String, String) {
    let body = json_with_status(
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await,
        200,
    )
    .await;
    (
        body["data"]["access_token"].as_str().unwrap().to_owned(),
        body["data"]["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn every_admin_route_refuses_anonymous_and_non_admin_callers() {
    let app = spawn_app(TEST_SCHEMA).await;
    user(&app, "member@example.com", &["user"]).await;
    let (member, _) = login(&app, "member@example.com").await;
    let (_, staff) = crate::helpers::mint_member(
        &app.store,
        &app.auth,
        "s@acme.test",
        &["staff"],
        Some("acme"),
    )
    .await;
    let key = json_with_status(
        app.post_json(
            "/api/v1/admin/api-keys",
            &json!({"name": "everything", "scopes": ["*:*"]}),
        )
        .await,
        201,
    )
    .await["data"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every administrative operation the OpenAPI document lists, so a new one cannot be missed.
    let document = json_with_status(app.get("/api/v1/openapi.json").await, 200).await;
    let some_id = uuid::Uuid::now_v7().to_string();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/admin") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let body =
                matches!(method.as_str(), "post" | "patch").then(|| json!({"roles": ["admin"]}));
            routes.push((method.to_uppercase(), path.replace("{id}", &some_id), body));
        }
    }
    assert!(routes.len() >= 8, "{routes:?}");
    for (method, path, body) in &routes {
        let method = method.as_str();
        for token in [&staff, &key] {
            let status = send_as(&app, method, path, Some(token), body.clone())
                .await
                .status()
                .as_u16();
            assert!(status == 401 || status == 403, "{method} {path}: {status}");
        }
        let anonymous = send_as(&app, method, path, None, body.clone()).await;
        assert_eq!(
            anonymous.headers()["www-authenticate"],
            "Bearer realm=\"fathom\""
        );
        assert_problem(anonymous, 401, "unauthorized").await;
        assert_problem(
            send_as(&app, method, path, Some(&member), body.clone()).await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(
            send_as(&app, method, path, Some("not-a-token"), body.clone()).await,
            401,
            "unauthorized",
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn an_admin_manages_users_and_disabling_ends_their_sessions_at_once() {
    let app = spawn_app(TEST_SCHEMA).await;
    user(&app, "root@example.com", &["admin"]).await;
    user(&app, "eve@example.com", &["user"]).await;
    let (admin, _) = login(&app, "root@example.com").await;
    let (_, eve_refresh) = login(&app, "eve@example.com").await;

    let users = json_with_status(
        send_as(
            &app,
            "GET",
            "/api/v1/admin/users?limit=10",
            Some(&admin),
            None,
        )
        .await,
        200,
    )
    .await;
    let eve = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "eve@example.com")
        .unwrap()
        .clone();
    let eve_id = eve["id"].as_str().unwrap().to_owned();
    assert_eq!(eve["disabled"], false);
    assert!(
        eve.get("password_hash").is_none(),
        "hashes never leave the server: {eve}"
    );

    let path = format!("/api/v1/admin/users/{eve_id}");
    let changed = json_with_status(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"roles": ["user", "editor"], "disabled": true})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["data"]["roles"], json!(["user", "editor"]));
    assert_eq!(changed["data"]["disabled"], true);

    // Her refresh token died with the disable; she cannot sign in either.
    assert_problem(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": eve_refresh}),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        app.post_json(
            "/api/v1/auth/login",
            &json!({"email": "eve@example.com", "password": PASSWORD}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;

    let audit = json_with_status(
        send_as(
            &app,
            "GET",
            "/api/v1/admin/audit?limit=50",
            Some(&admin),
            None,
        )
        .await,
        200,
    )
    .await;
    let entry = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "admin_user_update")
        .unwrap()
        .clone();
    assert_eq!(entry["target"], eve_id.as_str());
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("disabled false -> true"),
        "{entry}"
    );
    assert!(
        !audit.to_string().contains(PASSWORD),
        "the audit log never holds secrets"
    );

    // Bad input.
    assert_problem(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"email": "x@example.com"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"roles": ["Not Valid"]})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"disabled": "yes"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "GET",
            "/api/v1/admin/users/not-a-uuid",
            Some(&admin),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;
    let unknown = format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7());
    assert_problem(
        send_as(&app, "GET", &unknown, Some(&admin), None).await,
        404,
        "record_not_found",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "GET",
            "/api/v1/admin/audit?limit=0",
            Some(&admin),
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_admin_lists_refuse_bad_query_parameters() {
    let app = spawn_app(TEST_SCHEMA).await;
    let token = app.admin_token.clone();
    for path in [
        "/api/v1/admin/users?limit=0",
        "/api/v1/admin/users?limit=201",
        "/api/v1/admin/users?after=not-a-uuid",
        "/api/v1/admin/users?colour=red",
        "/api/v1/admin/audit?limit=1001",
        "/api/v1/admin/audit?colour=red",
    ] {
        let response = send_as(&app, "GET", path, Some(&token), None).await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(matches!(status, 400), "{path}: {status} {body}");
        assert!(
            body.contains("\"code\":\"invalid_query\"") || body.contains("\"code\":\"invalid_id\""),
            "{path}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_mailbox_needs_exactly_a_recipient_and_is_gone_once_smtp_is_set() {
    let app = spawn_app(TEST_SCHEMA).await;
    for query in ["", "?to=", "?to=a@example.com&x=1", "?from=a@example.com"] {
        assert_problem(
            app.get(&format!("/api/v1/admin/mailbox{query}")).await,
            400,
            "invalid_query",
        )
        .await;
    }
    let empty =
        json_with_status(app.get("/api/v1/admin/mailbox?to=a@example.com").await, 200).await;
    assert_eq!(empty["data"], json!([]));
    app.stop().await;

    let app = crate::helpers::spawn_app_with(TEST_SCHEMA, |c| {
        c.mail.smtp_url = Some(fathom::config::Secret::new("smtp://127.0.0.1:1"));
    })
    .await;
    assert_problem(
        app.get("/api/v1/admin/mailbox?to=a@example.com").await,
        404,
        "route_not_found",
    )
    .await;
    app.stop().await;
}
