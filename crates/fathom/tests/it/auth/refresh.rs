//! Refresh-token rotation: every refresh hands out a new token, a used token is dead, and a
//! replayed one ends the whole family (the session), is audited, and cannot be won twice under
//! concurrency.

use std::sync::Arc;

use reqwest::Method;
use tokio::sync::Barrier;

use super::support::{
    PASSWORD, assert_refresh_refused, bearer, login, me, refresh, refresh_response, register,
    spawn_auth_app,
};

#[tokio::test]
async fn each_refresh_rotates_and_a_replay_revokes_the_family() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "rotate@example.com";
    register(&app, email, PASSWORD).await;
    let first = login(&app, email, PASSWORD).await;
    let session_id = first["session_id"].as_str().unwrap().to_owned();
    let r0 = first["refresh_token"].as_str().unwrap().to_owned();

    let second = refresh(&app, &r0).await;
    let r1 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r0, "a refresh hands out a new refresh token");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["session_id"], session_id.as_str(), "same session");
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["session_expires_at"], first["session_expires_at"]);
    assert_eq!(
        me(&app, second["access_token"].as_str().unwrap()).await["email"],
        email
    );

    let third = refresh(&app, &r1).await;
    let r2 = third["refresh_token"].as_str().unwrap().to_owned();
    assert!(r2 != r1 && r2 != r0);

    // The first token comes back: someone holds a copy. It is refused, and the live child (r2)
    // dies with the family.
    assert_refresh_refused(&app, &r0, "replayed r0").await;
    assert_refresh_refused(&app, &r2, "live child r2 after the replay").await;
    assert_refresh_refused(&app, &r1, "used r1").await;

    let audit = app.store.audit_log(50).await.unwrap();
    let reuse: Vec<_> = audit
        .iter()
        .filter(|r| r.entry.action == "refresh_token_reuse")
        .collect();
    assert!(!reuse.is_empty(), "the replay is audited: {audit:#?}");
    let user_id = first["user"]["id"].as_str().unwrap();
    assert_eq!(reuse[0].entry.actor.as_deref(), Some(user_id));
    assert_eq!(reuse[0].entry.outcome, "denied");
    assert!(
        reuse[0]
            .entry
            .detail
            .as_deref()
            .is_some_and(|d| d.contains(&session_id)),
        "{:?}",
        reuse[0].entry
    );
    for record in &audit {
        let text = format!("{:?}", record.entry);
        for secret in [&r0, &r1, &r2] {
            assert!(
                !text.contains(secret.as_str()),
                "audit holds a token: {text}"
            );
        }
    }

    // The session is gone from the list; a fresh login still works.
    let fresh = login(&app, email, PASSWORD).await;
    let sessions: serde_json::Value = bearer(
        &app,
        Method::GET,
        "/sessions",
        fresh["access_token"].as_str().unwrap(),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ids: Vec<&str> = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&session_id.as_str()), "{sessions}");

    // Missing or malformed bodies are validation problems, not 5xx.
    let response = super::support::post_auth(&app, "/refresh", &serde_json::json!({}), None).await;
    crate::helpers::assert_problem(response, 400, "validation_failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_concurrent_refreshes_of_one_token_yield_exactly_one_success() {
    const CALLERS: usize = 30;
    let app = Arc::new(spawn_auth_app(|_| {}).await);
    let email = "race@example.com";
    register(&app, email, PASSWORD).await;
    let token = login(&app, email, PASSWORD).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let barrier = Arc::new(Barrier::new(CALLERS));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (app, barrier, token) = (Arc::clone(&app), Arc::clone(&barrier), token.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let response = refresh_response(&app, &token).await;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        outcomes.push(joined.unwrap());
    }
    let won: Vec<_> = outcomes.iter().filter(|(s, _)| *s == 200).collect();
    let refused = outcomes.iter().filter(|(s, _)| *s == 401).count();
    assert_eq!(
        won.len(),
        1,
        "exactly one refresh wins: {:?}",
        outcomes.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    assert_eq!(refused, CALLERS - 1, "every other caller gets a 401");
    for (status, body) in &outcomes {
        if *status == 401 {
            assert_eq!(body["code"], "unauthorized", "{body}");
        }
    }
}
