//! Credentials on live streams: SSE tickets (single use, no token in the URL), a fresh token on a
//! live WebSocket, and streams ended by logout, a disabled account, a role change, a revoked API
//! key and token expiry, within the session-cache window.

use std::time::Duration;

use serde_json::{Value, json};

use super::support::{SCHEMA, Sse, Ws, marker, sub, subscriptions_query};
use crate::helpers::{
    TestApp, assert_problem, json_with_status, mint_member_at, mint_user, send_as, spawn_app,
    spawn_app_with,
};

async fn ticket(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    send_as(app, "POST", "/api/v1/realtime/tickets", token, None).await
}

#[tokio::test]
async fn a_ticket_opens_one_sse_stream_once() {
    let app = spawn_app(SCHEMA).await;
    let (_, user) = mint_user(&app.store, &app.auth, "t@example.com", &["user"]).await;
    assert_problem(ticket(&app, None).await, 401, "unauthorized").await;
    let issued = json_with_status(ticket(&app, Some(&user)).await, 201).await;
    let value = issued["data"]["ticket"].as_str().unwrap().to_owned();
    assert_eq!(issued["data"]["expires_in"], 30);
    let query = format!(
        "{}&ticket={value}",
        subscriptions_query(&json!([sub("n", "notes")]))
    );
    let response = Sse::request(&app, &query, None, None).await;
    assert_eq!(response.status(), 200);
    let again = Sse::request(&app, &query, None, None).await;
    assert_problem(again, 401, "ticket_invalid").await;
    let forged = Sse::request(&app, "ticket=forged", None, None).await;
    assert_problem(forged, 401, "ticket_invalid").await;
    let both = Sse::request(&app, &query, Some(&user), None).await;
    assert_problem(both, 400, "invalid_query").await;
}

#[tokio::test]
async fn an_expired_ticket_is_refused() {
    let app = spawn_app_with(SCHEMA, |c| c.realtime.ticket_ttl_secs = 1).await;
    let issued = json_with_status(ticket(&app, Some(&app.admin_token)).await, 201).await;
    let value = issued["data"]["ticket"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let response = Sse::request(&app, &format!("ticket={value}"), None, None).await;
    assert_problem(response, 401, "ticket_invalid").await;
}

/// Asserts that the stream ends with a `closing` frame of `code` carrying a resume point.
async fn ends_with(ws: &mut Ws, code: &str) {
    let closing = ws.expect("closing").await;
    assert_eq!(closing["code"], code, "{closing}");
    assert!(closing["resume"].is_i64(), "{closing}");
    assert!(ws.closed().await);
}

#[tokio::test]
async fn logout_ends_the_stream() {
    let app = spawn_app(SCHEMA).await;
    let (_, user) = mint_user(&app.store, &app.auth, "l@example.com", &["user"]).await;
    let (mut ws, _) = Ws::connect(&app, Some(&user), None, json!([sub("n", "notes")])).await;
    ws.expect("subscribed").await;
    let (mut sse, _) = Sse::open(&app, &json!([sub("n", "notes")]), Some(&user), None).await;
    sse.expect("subscribed").await;
    let response = send_as(&app, "POST", "/api/v1/auth/logout", Some(&user), None).await;
    assert_eq!(response.status(), 204);
    ends_with(&mut ws, "unauthorized").await;
    let closing = sse.expect("closing").await;
    assert_eq!(closing.data["code"], "unauthorized");
    assert_eq!(closing.id, closing.data["resume"].as_i64());
}

/// Credentials are presented again once per distinct credential for all the node's connections
/// (`rechecks.rs`): ending one session ends every stream opened with it, parked or not, and no
/// other.
#[tokio::test]
async fn logout_ends_every_stream_of_its_session_and_only_those() {
    let app = spawn_app(SCHEMA).await;
    let (_, leaving) = mint_user(&app.store, &app.auth, "a@example.com", &["user"]).await;
    let (_, staying) = mint_user(&app.store, &app.auth, "b@example.com", &["user"]).await;
    let posts = json!([sub("p", "posts")]);
    let (mut first, _) = Ws::connect(&app, Some(&leaving), None, posts.clone()).await;
    first.expect("subscribed").await;
    let (mut second, _) = Sse::open(&app, &posts, Some(&leaving), None).await;
    second.expect("subscribed").await;
    let (mut other, _) = Ws::connect(&app, Some(&staying), None, posts.clone()).await;
    other.expect("subscribed").await;
    // Every stream has taken an event, so each has parked with its direct writer.
    let before = marker(&app).await;
    assert!(first.events_until(&before).await.is_empty());
    assert_eq!(second.events(1).await[0].data["id"], before);
    assert!(other.events_until(&before).await.is_empty());
    let response = send_as(&app, "POST", "/api/v1/auth/logout", Some(&leaving), None).await;
    assert_eq!(response.status(), 204);
    ends_with(&mut first, "unauthorized").await;
    let closing = second.expect("closing").await;
    assert_eq!(closing.data["code"], "unauthorized");
    // Two more recheck rounds (half a second each by default) leave the other stream open.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = marker(&app).await;
    assert!(other.events_until(&after).await.is_empty());
}

#[tokio::test]
async fn revoking_an_api_key_ends_its_streams() {
    let app = spawn_app(SCHEMA).await;
    let response = app
        .post_json(
            "/api/v1/admin/api-keys",
            &json!({"name": "watcher", "scopes": ["posts:list"]}),
        )
        .await;
    let created = json_with_status(response, 201).await;
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let posts = json!([sub("p", "posts")]);
    let (mut ws, _) = Ws::connect(&app, Some(&key), None, posts.clone()).await;
    ws.expect("subscribed").await;
    let (mut sse, _) = Sse::open(&app, &posts, Some(&key), None).await;
    sse.expect("subscribed").await;
    let before = marker(&app).await;
    assert!(ws.events_until(&before).await.is_empty());
    assert_eq!(sse.events(1).await[0].data["id"], before);
    let revoked = app.delete(&format!("/api/v1/admin/api-keys/{id}")).await;
    assert_eq!(revoked.status(), 204);
    ends_with(&mut ws, "unauthorized").await;
    let closing = sse.expect("closing").await;
    assert_eq!(closing.data["code"], "unauthorized");
}

#[tokio::test]
async fn disabling_the_user_or_changing_its_roles_ends_the_stream() {
    let app = spawn_app(SCHEMA).await;
    let (id, user) = mint_user(&app.store, &app.auth, "d@example.com", &["user"]).await;
    let (other_id, other) = mint_user(&app.store, &app.auth, "r@example.com", &["user"]).await;
    let (mut disabled, _) = Ws::connect(&app, Some(&user), None, json!([])).await;
    let (mut promoted, _) = Ws::connect(&app, Some(&other), None, json!([])).await;
    let patch = |id: uuid::Uuid, body: Value| {
        let app = &app;
        async move {
            let response = app
                .patch_json(&format!("/api/v1/admin/users/{id}"), &body)
                .await;
            assert_eq!(response.status(), 200, "{:?}", response.text().await);
        }
    };
    patch(id, json!({"disabled": true})).await;
    ends_with(&mut disabled, "unauthorized").await;
    patch(other_id, json!({"roles": ["user", "editor"]})).await;
    ends_with(&mut promoted, "authority_changed").await;
}

#[tokio::test]
async fn an_expiring_token_ends_the_stream_unless_a_fresh_one_arrives() {
    let app = spawn_app(SCHEMA).await;
    let config = app.auth.settings.tokens.clone();
    let lifetime = i64::try_from(config.access_ttl_secs + config.leeway_secs).unwrap();
    // Issued so that it expires, leeway included, two seconds from now.
    let expiring_soon = || unix_now() + 2 - lifetime;
    let (_, expiring) = mint_member_at(
        &app.store,
        &app.auth,
        "e@example.com",
        &["user"],
        None,
        expiring_soon(),
    )
    .await;
    let (mut ws, _) = Ws::connect(&app, Some(&expiring), None, json!([])).await;
    ends_with(&mut ws, "unauthorized").await;

    // The same, with a fresh token of the same account sent before the old one expires.
    let (user_id, refreshed_old) = mint_member_at(
        &app.store,
        &app.auth,
        "f@example.com",
        &["user"],
        None,
        expiring_soon(),
    )
    .await;
    let (mut ws, _) = Ws::connect(&app, Some(&refreshed_old), None, json!([])).await;
    let fresh = fresh_token_for(&app, user_id).await;
    ws.send(json!({"type": "auth", "token": fresh})).await;
    ws.send(json!({"type": "ping"})).await;
    ws.expect("pong").await;
    assert!(
        ws.try_next(Duration::from_secs(4)).await.is_none(),
        "no closing frame"
    );

    // A token of another account ends the stream instead.
    let (_, stranger) = mint_user(&app.store, &app.auth, "s@example.com", &["user"]).await;
    ws.send(json!({"type": "auth", "token": stranger})).await;
    ends_with(&mut ws, "authority_changed").await;
}

/// A fresh access token for `user_id`'s session, through the key ring (as refresh would issue).
async fn fresh_token_for(app: &TestApp, user_id: uuid::Uuid) -> String {
    let sessions = app.store.sessions(user_id).await.unwrap();
    let session = sessions.first().unwrap();
    let subject = fathom_auth::TokenSubject {
        sub: user_id.to_string(),
        roles: vec!["user".into()],
        tenant: None,
        verified: true,
        sid: session.id.to_string(),
    };
    app.auth
        .keys
        .ring(&app.store, false)
        .await
        .issue(&app.auth.settings.tokens, &subject, unix_now())
        .unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
