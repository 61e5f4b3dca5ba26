//! The per-node caches of verified access tokens and live sessions do not weaken anything on
//! the node that ends a session: after logout, revoking a session (one or all others), a
//! password change or reset, disabling the user and refresh-token reuse, an access token that
//! was just used (and so is cached) is refused by the very next request. The session interval
//! is set to a minute here, so only the invalidation can explain the refusal. A token whose
//! `exp` passes while cached is refused; a session ended elsewhere (another node, modelled by
//! writing to the database directly) stops working within `auth.session_cache_ms`, and at once
//! when it is 0.

use std::time::{Duration, Instant};

use fathom_auth::TokenSubject;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{
    NEW_PASSWORD, PASSWORD, assert_unauthorized, bearer, login, mailed_token, post_auth,
    refresh_response, register, spawn_auth_app,
};
use crate::helpers::{TestApp, json_with_status, send_as, server_ring};

/// Longer than any test here: a refusal cannot come from a cached verdict running out.
const LONG_INTERVAL_MS: u64 = 60_000;

fn unix_now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
        .to_owned()
}

/// A logged-in session: its access and refresh tokens and ids.
struct Login {
    access: String,
    refresh: String,
    user_id: Uuid,
    session_id: Uuid,
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Login {
    let data = login(app, email, password).await;
    Login {
        access: text(&data, "access_token"),
        refresh: text(&data, "refresh_token"),
        user_id: Uuid::parse_str(&text(&data["user"], "id")).unwrap(),
        session_id: Uuid::parse_str(&text(&data, "session_id")).unwrap(),
    }
}

async fn me_status(app: &TestApp, token: &str) -> reqwest::Response {
    bearer(app, Method::GET, "/me", token).send().await.unwrap()
}

/// Uses `login`'s access token (a 200 from `/me`) and checks that both caches now hold it, so
/// that a later refusal is a refusal despite the caches.
async fn use_and_assert_cached(app: &TestApp, login: &Login, context: &str) {
    json_with_status(me_status(app, &login.access).await, 200).await;
    assert!(
        app.auth.tokens.get(&login.access, unix_now()).is_some(),
        "{context}: the verified token is cached"
    );
    assert!(
        app.auth.sessions.is_live(login.user_id, login.session_id),
        "{context}: the live session is cached"
    );
}

async fn assert_refused_now(app: &TestApp, login: &Login, context: &str) {
    let response = me_status(app, &login.access).await;
    assert_eq!(
        response.status(),
        401,
        "{context}: the cached access token still works"
    );
    let body = assert_unauthorized(response, context).await;
    assert_eq!(
        body["detail"], "The session of this access token has ended.",
        "{context}: {body}"
    );
}

async fn app_with_interval(ms: u64) -> TestApp {
    spawn_auth_app(|c| c.auth.session_cache_ms = ms).await
}

#[tokio::test]
async fn logout_refuses_the_cached_token_at_once_on_every_endpoint() {
    let app = app_with_interval(LONG_INTERVAL_MS).await;
    register(&app, "logout@example.com", PASSWORD).await;
    let session = sign_in(&app, "logout@example.com", PASSWORD).await;
    use_and_assert_cached(&app, &session, "before logout").await;
    // The records endpoints authenticate through the same caches: a signed-in user who may
    // not list notes is refused with 403, not 401.
    let records = send_as(&app, "GET", "/api/v1/notes", Some(&session.access), None).await;
    assert_eq!(records.status(), 403);

    let response = bearer(&app, Method::POST, "/logout", &session.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused_now(&app, &session, "after logout").await;
    let records = send_as(&app, "GET", "/api/v1/notes", Some(&session.access), None).await;
    assert_unauthorized(records, "records after logout").await;
}

#[tokio::test]
async fn revoking_sessions_refuses_their_cached_tokens_at_once() {
    let app = app_with_interval(LONG_INTERVAL_MS).await;
    let email = "revoke@example.com";
    register(&app, email, PASSWORD).await;
    let a = sign_in(&app, email, PASSWORD).await;
    let b = sign_in(&app, email, PASSWORD).await;
    let c = sign_in(&app, email, PASSWORD).await;
    for (label, session) in [("A", &a), ("B", &b), ("C", &c)] {
        use_and_assert_cached(&app, session, label).await;
    }

    // A ends B.
    let path = format!("/sessions/{}", b.session_id);
    let response = bearer(&app, Method::DELETE, &path, &a.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused_now(&app, &b, "B after DELETE /sessions/{id}").await;
    use_and_assert_cached(&app, &c, "C is untouched").await;

    // A ends every other session: C goes, A stays.
    let response = bearer(&app, Method::DELETE, "/sessions", &a.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused_now(&app, &c, "C after DELETE /sessions").await;
    json_with_status(me_status(&app, &a.access).await, 200).await;
}

#[tokio::test]
async fn password_change_and_reset_refuse_cached_tokens_at_once() {
    let app = app_with_interval(LONG_INTERVAL_MS).await;
    let email = "password@example.com";
    register(&app, email, PASSWORD).await;
    let a = sign_in(&app, email, PASSWORD).await;
    let b = sign_in(&app, email, PASSWORD).await;
    use_and_assert_cached(&app, &a, "A").await;
    use_and_assert_cached(&app, &b, "B").await;

    // A change ends the other sessions and keeps the caller's.
    let response = bearer(&app, Method::POST, "/password", &a.access)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused_now(&app, &b, "B after the password change").await;
    use_and_assert_cached(&app, &a, "A keeps its session").await;

    // A reset ends every session.
    let requested = post_auth(&app, "/password-reset", &json!({"email": email}), None).await;
    json_with_status(requested, 202).await;
    let token = mailed_token(&app, email, "Reset your password").await;
    let confirmed = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(confirmed.status(), 204);
    assert_refused_now(&app, &a, "A after the password reset").await;
}

#[tokio::test]
async fn disabling_a_user_refuses_their_cached_tokens_at_once() {
    let app = app_with_interval(LONG_INTERVAL_MS).await;
    register(&app, "disabled@example.com", PASSWORD).await;
    let session = sign_in(&app, "disabled@example.com", PASSWORD).await;
    use_and_assert_cached(&app, &session, "before the disable").await;

    let path = format!("/api/v1/admin/users/{}", session.user_id);
    let response = send_as(
        &app,
        "PATCH",
        &path,
        Some(&app.admin_token),
        Some(json!({"disabled": true})),
    )
    .await;
    json_with_status(response, 200).await;
    assert_refused_now(&app, &session, "after the disable").await;
}

#[tokio::test]
async fn refresh_token_reuse_refuses_the_cached_access_token_at_once() {
    let app = app_with_interval(LONG_INTERVAL_MS).await;
    register(&app, "reuse@example.com", PASSWORD).await;
    let session = sign_in(&app, "reuse@example.com", PASSWORD).await;
    use_and_assert_cached(&app, &session, "before the reuse").await;

    let rotated = refresh_response(&app, &session.refresh).await;
    json_with_status(rotated, 200).await;
    // The old refresh token again: reuse, so the whole session is revoked.
    let replayed = refresh_response(&app, &session.refresh).await;
    assert_unauthorized(replayed, "the replayed refresh token").await;
    assert_refused_now(&app, &session, "after refresh-token reuse").await;
}

#[tokio::test]
async fn a_token_that_expires_while_cached_is_refused() {
    let app = app_with_interval(LONG_INTERVAL_MS).await;
    register(&app, "expiring@example.com", PASSWORD).await;
    let session = sign_in(&app, "expiring@example.com", PASSWORD).await;

    // Issued so that it expires, leeway included, two seconds from now.
    let config = app.auth.settings.tokens.clone();
    let ttl = i64::try_from(config.access_ttl_secs + config.leeway_secs).unwrap();
    let deadline = unix_now() + 2;
    let subject = TokenSubject {
        sub: session.user_id.to_string(),
        roles: vec!["user".into()],
        tenant: None,
        verified: false,
        sid: session.session_id.to_string(),
    };
    let token = server_ring(&app.store)
        .await
        .issue(&config, &subject, deadline - ttl)
        .unwrap();
    let expiring = Login {
        access: token,
        ..session
    };
    use_and_assert_cached(&app, &expiring, "the expiring token").await;

    while unix_now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let response = me_status(&app, &expiring.access).await;
    let body = assert_unauthorized(response, "the token past its exp").await;
    assert_eq!(body["detail"], "The access token has expired.", "{body}");
    assert!(
        app.auth.tokens.get(&expiring.access, unix_now()).is_none(),
        "the expired token left the cache"
    );
}

#[tokio::test]
async fn a_session_ended_elsewhere_stops_working_within_the_interval() {
    const INTERVAL: Duration = Duration::from_millis(1_500);
    let app = app_with_interval(1_500).await;
    register(&app, "elsewhere@example.com", PASSWORD).await;
    let session = sign_in(&app, "elsewhere@example.com", PASSWORD).await;
    use_and_assert_cached(&app, &session, "before").await;
    let cached_at = Instant::now();

    // Another node (or the CLI) ends the session in the shared database: this node is not told.
    assert!(
        app.store
            .revoke_session(session.user_id, session.session_id, "logout")
            .await
            .unwrap()
    );
    let response = me_status(&app, &session.access).await;
    if cached_at.elapsed() < INTERVAL / 2 {
        assert_eq!(
            response.status(),
            200,
            "within the interval this node still trusts its verdict"
        );
    }
    tokio::time::sleep(INTERVAL.saturating_sub(cached_at.elapsed()) + Duration::from_millis(50))
        .await;
    assert_refused_now(&app, &session, "after the interval").await;
}

#[tokio::test]
async fn with_a_zero_interval_a_session_ended_elsewhere_stops_working_at_once() {
    let app = app_with_interval(0).await;
    register(&app, "uncached@example.com", PASSWORD).await;
    let session = sign_in(&app, "uncached@example.com", PASSWORD).await;
    json_with_status(me_status(&app, &session.access).await, 200).await;
    assert!(
        !app.auth
            .sessions
            .is_live(session.user_id, session.session_id)
    );

    app.store
        .revoke_session(session.user_id, session.session_id, "logout")
        .await
        .unwrap();
    assert_refused_now(&app, &session, "right after the revocation").await;
}
