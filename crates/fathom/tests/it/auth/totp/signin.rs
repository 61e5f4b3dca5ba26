//! Signing in to an account with TOTP on: the challenge, tokens only after the second factor,
//! replay, brute force per challenge and per account, recovery codes and expired challenges.

use reqwest::Method;
use serde_json::json;

use super::super::support::{header, me};
use super::support::{account, code_at, enable, password_step, second_factor, status, wrong_code};
use crate::auth::support::spawn_auth_app;
use crate::helpers::{assert_problem, json_with_status};

#[tokio::test]
async fn sign_in_answers_tokens_only_after_the_second_factor_and_refuses_a_replay() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "signin@example.com";
    let token = account(&app, email).await;
    let (totp, _) = enable(&app, &token).await;

    let challenge = password_step(&app, email).await;
    // A challenge is not an access token.
    let response = super::super::support::bearer(&app, Method::GET, "/me", &challenge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let code = code_at(&totp, 1);
    let signed_in = second_factor(&app, &challenge, &code).await;
    let data = json_with_status(signed_in, 200).await["data"].clone();
    let access = data["access_token"].as_str().expect("an access token");
    assert!(data["refresh_token"].is_string(), "{data}");
    assert_eq!(me(&app, access).await["email"], email);

    // The challenge is spent with its sign-in.
    let spent = second_factor(&app, &challenge, &code_at(&totp, 0)).await;
    assert_problem(spent, 401, "challenge_invalid").await;

    // The same code, within its window, on a new challenge: refused, as is an earlier step's.
    let next = password_step(&app, email).await;
    let replay = second_factor(&app, &next, &code).await;
    assert_problem(replay, 401, "second_factor_invalid").await;
    let earlier = second_factor(&app, &next, &code_at(&totp, 0)).await;
    assert_problem(earlier, 401, "second_factor_invalid").await;

    let missing = super::super::support::post_auth(
        &app,
        "/login/second-factor",
        &json!({"challenge": next}),
        None,
    )
    .await;
    assert_problem(missing, 400, "validation_failed").await;
    let unknown = second_factor(&app, "not-a-challenge", &code_at(&totp, 1)).await;
    assert_problem(unknown, 401, "challenge_invalid").await;
}

#[tokio::test]
async fn brute_force_of_the_second_factor_stops_per_challenge_and_per_account() {
    let app = spawn_auth_app(|c| {
        c.auth.totp.challenge_attempts = 3;
        c.auth.totp.account_attempts = 5;
    })
    .await;
    let email = "brute@example.com";
    let token = account(&app, email).await;
    let (totp, _) = enable(&app, &token).await;

    // Per challenge: three wrong codes, and the challenge is dead, even for the right code.
    let first = password_step(&app, email).await;
    for n in 0..3 {
        let wrong = second_factor(&app, &first, &wrong_code(&totp, n * 1000)).await;
        assert_problem(wrong, 401, "second_factor_invalid").await;
    }
    let dead = second_factor(&app, &first, &code_at(&totp, 1)).await;
    assert_problem(dead, 401, "challenge_invalid").await;

    // Per account, across challenges: two more wrong codes reach five, and the right code is
    // refused on this challenge and on a new one.
    let second = password_step(&app, email).await;
    for n in 3..5 {
        let wrong = second_factor(&app, &second, &wrong_code(&totp, n * 1000)).await;
        assert_problem(wrong, 401, "second_factor_invalid").await;
    }
    let locked = second_factor(&app, &second, &code_at(&totp, 1)).await;
    let retry = header(&locked, "retry-after").expect("Retry-After");
    assert!(
        retry
            .parse::<u64>()
            .is_ok_and(|s| s > 0 && s <= 15 * 60 + 1),
        "{retry}"
    );
    assert_problem(locked, 429, "second_factor_locked").await;
    let third = password_step(&app, email).await;
    let still = second_factor(&app, &third, &code_at(&totp, 1)).await;
    assert_problem(still, 429, "second_factor_locked").await;
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "recovery@example.com";
    let token = account(&app, email).await;
    let (_, recovery) = enable(&app, &token).await;

    let challenge = password_step(&app, email).await;
    let used = second_factor(&app, &challenge, &recovery[0]).await;
    assert!(
        json_with_status(used, 200).await["data"]["access_token"].is_string(),
        "a recovery code signs in"
    );
    let again = password_step(&app, email).await;
    let reused = second_factor(&app, &again, &recovery[0]).await;
    assert_problem(reused, 401, "second_factor_invalid").await;
    // Case and dashes do not matter.
    let typed = recovery[1].to_uppercase().replace('-', " ");
    let other = second_factor(&app, &again, &typed).await;
    assert_eq!(other.status(), 200);
    assert_eq!(status(&app, &token).await["recovery_codes_left"], 8);
}

#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let app = spawn_auth_app(|c| c.auth.totp.challenge_ttl_secs = 1).await;
    let email = "expired@example.com";
    let token = account(&app, email).await;
    let (totp, _) = enable(&app, &token).await;
    let challenge = password_step(&app, email).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let late = second_factor(&app, &challenge, &code_at(&totp, 1)).await;
    assert_problem(late, 401, "challenge_invalid").await;
}

/// Two nodes on one PostgreSQL database: a code accepted on one is refused on the other (the
/// last accepted step lives in the database, not in a node). Skipped on SQLite (one node).
#[tokio::test]
async fn a_code_accepted_on_one_node_is_refused_on_another() {
    let Some(nodes) = crate::helpers::spawn_nodes_with(crate::auth::support::SCHEMA, 2, |c| {
        c.auth.rate_limits.login = 0;
        c.auth.rate_limits.register = 0;
        c.rate_limits.enabled = false;
    })
    .await
    else {
        return;
    };
    let (first, second) = (&nodes[0], &nodes[1]);
    let email = "nodes@example.com";
    let token = account(first, email).await;
    let (totp, _) = enable(first, &token).await;
    let code = code_at(&totp, 1);

    let on_first = password_step(first, email).await;
    assert_eq!(second_factor(first, &on_first, &code).await.status(), 200);
    let on_second = password_step(second, email).await;
    let replay = second_factor(second, &on_second, &code).await;
    assert_problem(replay, 401, "second_factor_invalid").await;
}
