//! Sessions: listed with the caller's own marked `current`; ending one, all others, changing the
//! password and logging out each kill exactly the right refresh tokens; another user's or an
//! unknown session id is a 404.

use reqwest::Method;
use serde_json::{Value, json};

use super::support::{
    NEW_PASSWORD, PASSWORD, assert_refresh_refused, bearer, login, refresh, register,
    spawn_auth_app,
};
use crate::helpers::{TestApp, assert_problem, json_with_status};

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
        .to_owned()
}

async fn list(app: &TestApp, access: &str) -> Vec<Value> {
    let response = bearer(app, Method::GET, "/sessions", access)
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn delete(app: &TestApp, path: &str, access: &str) -> reqwest::Response {
    bearer(app, Method::DELETE, path, access)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_precisely() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "sessions@example.com";
    register(&app, email, PASSWORD).await;
    let a = login(&app, email, PASSWORD).await;
    let b = login(&app, email, PASSWORD).await;
    let a_access = text(&a, "access_token");
    let (a_id, b_id) = (text(&a, "session_id"), text(&b, "session_id"));

    // Both listed; only the caller's own is `current`; secrets are not listed.
    let sessions = list(&app, &a_access).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    for session in &sessions {
        let id = text(session, "id");
        assert!(id == a_id || id == b_id, "{session}");
        assert_eq!(session["current"], id == a_id, "{session}");
        assert!(session.get("refresh_token").is_none(), "{session}");
        assert!(session["expires_at"].is_string(), "{session}");
    }
    let from_b = list(&app, &text(&b, "access_token")).await;
    assert!(
        from_b
            .iter()
            .all(|s| s["current"] == (text(s, "id") == b_id)),
        "{from_b:?}"
    );

    // End B from A: B's refresh token dies, A's lives.
    let response = delete(&app, &format!("/sessions/{b_id}"), &a_access).await;
    assert_eq!(response.status(), 204);
    assert_refresh_refused(&app, &text(&b, "refresh_token"), "session B after DELETE").await;
    let a = refresh(&app, &text(&a, "refresh_token")).await;
    assert_eq!(text(&a, "session_id"), a_id);
    let sessions = list(&app, &a_access).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    // Ending it again: it is no longer live.
    let again = delete(&app, &format!("/sessions/{b_id}"), &a_access).await;
    assert_problem(again, 404, "record_not_found").await;

    // Unknown ids, malformed ids and another user's session are all "not yours": 404.
    register(&app, "stranger@example.com", PASSWORD).await;
    let stranger = login(&app, "stranger@example.com", PASSWORD).await;
    for id in [
        uuid::Uuid::now_v7().to_string(),
        "not-a-uuid".to_owned(),
        text(&stranger, "session_id"),
    ] {
        let response = delete(&app, &format!("/sessions/{id}"), &a_access).await;
        assert_problem(response, 404, "record_not_found").await;
    }
    // The stranger's session survived the attempt.
    refresh(&app, &text(&stranger, "refresh_token")).await;

    // DELETE /sessions ends every other session and keeps the current one.
    let c = login(&app, email, PASSWORD).await;
    let d = login(&app, email, PASSWORD).await;
    assert_eq!(list(&app, &a_access).await.len(), 3);
    let response = delete(&app, "/sessions", &a_access).await;
    assert_eq!(response.status(), 204);
    assert_refresh_refused(
        &app,
        &text(&c, "refresh_token"),
        "session C after DELETE /sessions",
    )
    .await;
    assert_refresh_refused(
        &app,
        &text(&d, "refresh_token"),
        "session D after DELETE /sessions",
    )
    .await;
    let sessions = list(&app, &a_access).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["current"], true);
    let a = refresh(&app, &text(&a, "refresh_token")).await;

    // A password change ends the other sessions and keeps the current one.
    let e = login(&app, email, PASSWORD).await;
    let response = bearer(&app, Method::POST, "/password", &a_access)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refresh_refused(
        &app,
        &text(&e, "refresh_token"),
        "session E after password change",
    )
    .await;
    let a = refresh(&app, &text(&a, "refresh_token")).await;
    let a_access = text(&a, "access_token");
    assert_eq!(list(&app, &a_access).await.len(), 1);

    // Logout ends the current session's refresh token.
    let response = bearer(&app, Method::POST, "/logout", &a_access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refresh_refused(&app, &text(&a, "refresh_token"), "session A after logout").await;
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_a_good_new_one() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "changer@example.com";
    register(&app, email, PASSWORD).await;
    let session = login(&app, email, PASSWORD).await;
    let access = text(&session, "access_token");
    let change = |current: &str, new: &str| {
        bearer(&app, Method::POST, "/password", &access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };

    let wrong = change("not the current password", NEW_PASSWORD)
        .await
        .unwrap();
    assert_problem(wrong, 401, "invalid_credentials").await;
    for (new, code) in [
        ("short", "too_short"),
        ("password1234", "too_common"),
        (email, "same_as_email"),
    ] {
        let response = change(PASSWORD, new).await.unwrap();
        let problem = assert_problem(response, 400, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "new_password", "{problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{problem}");
    }
    // Nothing changed: the session and the old password still work.
    refresh(&app, &text(&session, "refresh_token")).await;
    login(&app, email, PASSWORD).await;
}

/// Ending a session ends its access tokens at once, not when they expire: logout, revoking the
/// session from another one, refresh-token reuse and disabling the account.
#[tokio::test]
async fn access_tokens_die_with_their_session() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "ends@example.com";
    register(&app, email, PASSWORD).await;
    let me_status = |token: String| {
        let request = bearer(&app, Method::GET, "/me", &token);
        async move { request.send().await.unwrap().status().as_u16() }
    };

    let a = login(&app, email, PASSWORD).await;
    assert_eq!(me_status(text(&a, "access_token")).await, 200);
    let logout = bearer(&app, Method::POST, "/logout", &text(&a, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status().as_u16(), 204);
    assert_eq!(
        me_status(text(&a, "access_token")).await,
        401,
        "logout ends the access token"
    );

    let b = login(&app, email, PASSWORD).await;
    let c = login(&app, email, PASSWORD).await;
    let revoke = delete(
        &app,
        &format!("/sessions/{}", text(&b, "session_id")),
        &text(&c, "access_token"),
    )
    .await;
    assert_eq!(revoke.status().as_u16(), 204);
    assert_eq!(
        me_status(text(&b, "access_token")).await,
        401,
        "a revoked session's token ends"
    );
    assert_eq!(
        me_status(text(&c, "access_token")).await,
        200,
        "the revoking session lives on"
    );

    let rotated = refresh(&app, &text(&c, "refresh_token")).await;
    assert_refresh_refused(&app, &text(&c, "refresh_token"), "replay").await;
    assert_eq!(
        me_status(text(&rotated, "access_token")).await,
        401,
        "reuse detection ends the family's tokens"
    );

    let d = login(&app, email, PASSWORD).await;
    let user = app.store.user_by_email(email).await.unwrap().unwrap();
    let changes = fathom_store::UserChanges {
        disabled: Some(true),
        ..Default::default()
    };
    app.store.update_user(user.id, changes).await.unwrap();
    assert_eq!(
        me_status(text(&d, "access_token")).await,
        401,
        "disabling ends every token"
    );
    app.stop().await;
}
