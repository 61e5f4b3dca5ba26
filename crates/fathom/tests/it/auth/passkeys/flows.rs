//! The passkey life cycle: several passkeys per account, listed, each signing in without an
//! email, one removed (and no longer signing in), and the last way to sign in kept.

use serde_json::json;

use std::time::Duration;

use super::device::{
    Device, add_passkey, finish_registration, finish_sign_in, list, passkey_config,
    registration_options, remove, sign_in_options, sign_in_with, signed_in, signs_in,
    spawn_passkey_app,
};
use crate::auth::support::{PASSWORD, SCHEMA, login, me, post_auth, spawn_auth_app};
use crate::helpers::{TestApp, assert_problem, json_with_status, spawn_nodes_with};

#[tokio::test]
async fn an_account_registers_two_passkeys_signs_in_with_each_and_removes_one() {
    let app = spawn_passkey_app().await;
    let (token, user_id) = signed_in(&app, "ada@example.com").await;
    let mut phone = Device::new(false);
    let mut laptop = Device::new(true);
    let first = add_passkey(&app, &token, &mut phone, "Phone").await;
    let second = add_passkey(&app, &token, &mut laptop, "  Work laptop ").await;
    assert_eq!(first["name"], "Phone");
    assert_eq!(second["name"], "Work laptop", "names are trimmed");
    for passkey in [&first, &second] {
        assert!(
            passkey["created_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{passkey}"
        );
        assert!(passkey["last_used_at"].is_null(), "{passkey}");
        assert!(
            passkey.get("credential").is_none(),
            "the credential is never shown: {passkey}"
        );
    }

    let listed = list(&app, &token).await;
    let names: Vec<_> = listed.iter().map(|p| p["name"].clone()).collect();
    assert_eq!(
        names,
        [json!("Phone"), json!("Work laptop")],
        "oldest first"
    );

    // Each passkey signs in to the account, with no email typed, and ends in a usable session.
    for device in [&mut phone, &mut laptop] {
        let data = signs_in(&app, device).await;
        assert_eq!(data["user"]["id"], user_id.as_str());
        let access = data["access_token"].as_str().expect("token");
        assert_eq!(me(&app, access).await["id"], user_id.as_str());
    }
    let listed = list(&app, &token).await;
    assert!(
        listed.iter().all(|p| p["last_used_at"].as_str().is_some()),
        "a sign-in records when: {listed:?}"
    );

    // Removing one: it is gone from the list and no longer signs in; the other still does.
    let id = first["id"].as_str().expect("id");
    assert_eq!(remove(&app, &token, id).await.status(), 204);
    let listed = list(&app, &token).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], second["id"]);
    assert_problem(sign_in_with(&app, &mut phone).await, 401, "passkey_unknown").await;
    signs_in(&app, &mut laptop).await;
    // Removing it again, or a passkey that is not the caller's, is a 404.
    assert_problem(remove(&app, &token, id).await, 404, "passkey_not_found").await;
    let (other, _) = signed_in(&app, "grace@example.com").await;
    let second_id = second["id"].as_str().expect("id");
    assert_problem(
        remove(&app, &other, second_id).await,
        404,
        "passkey_not_found",
    )
    .await;
    assert_problem(
        remove(&app, &token, "not-a-uuid").await,
        404,
        "passkey_not_found",
    )
    .await;
    assert!(
        list(&app, &other).await.is_empty(),
        "passkeys are per account"
    );
    app.stop().await;
}

#[tokio::test]
async fn removing_the_last_way_to_sign_in_is_refused() {
    let app = spawn_passkey_app().await;
    let (token, user_id) = signed_in(&app, "lin@example.com").await;
    let mut first = Device::new(false);
    let only = add_passkey(&app, &token, &mut first, "Phone").await;
    // With a usable password, the only passkey may go: the password still signs in.
    assert_eq!(
        remove(&app, &token, only["id"].as_str().expect("id"))
            .await
            .status(),
        204
    );

    let mut second = Device::new(false);
    let mut third = Device::new(false);
    let kept = add_passkey(&app, &token, &mut second, "Phone").await;
    let spare = add_passkey(&app, &token, &mut third, "Key").await;
    // The account loses its password (as an account made by a way of signing in that sets
    // none): passkeys are now its only ways in.
    let user = uuid::Uuid::parse_str(&user_id).expect("uuid");
    let session = signs_in(&app, &mut second).await;
    let token = session["access_token"].as_str().expect("token").to_owned();
    let session_id = uuid::Uuid::parse_str(session["session_id"].as_str().expect("sid")).ok();
    app.store
        .set_password(user, fathom_store::NO_PASSWORD.into(), session_id)
        .await
        .expect("password cleared");
    let refused = post_auth(
        &app,
        "/login",
        &json!({"email": "lin@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    assert_problem(refused, 401, "invalid_credentials").await;

    assert_eq!(
        remove(&app, &token, spare["id"].as_str().expect("id"))
            .await
            .status(),
        204
    );
    let body = assert_problem(
        remove(&app, &token, kept["id"].as_str().expect("id")).await,
        409,
        "last_sign_in_method",
    )
    .await;
    assert!(
        body["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    assert_eq!(list(&app, &token).await.len(), 1, "the last passkey stays");
    signs_in(&app, &mut second).await;
    app.stop().await;
}

#[tokio::test]
async fn without_a_relying_party_passkeys_are_off() {
    let app = spawn_auth_app(|_| {}).await;
    let (token, _) = signed_in(&app, "off@example.com").await;
    let options = post_auth(&app, "/passkeys/login/options", &json!({}), None).await;
    assert_problem(options, 404, "passkeys_disabled").await;
    let finish = post_auth(
        &app,
        "/passkeys/login",
        &json!({"ceremony_id": uuid::Uuid::new_v4(), "credential": {}}),
        None,
    )
    .await;
    assert_problem(finish, 404, "passkeys_disabled").await;
    let listed = crate::auth::support::bearer(&app, reqwest::Method::GET, "/passkeys", &token)
        .send()
        .await
        .expect("sent");
    assert_problem(listed, 404, "passkeys_disabled").await;
    // Password sign-in is untouched.
    login(&app, "off@example.com", PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn any_node_finishes_a_ceremony_another_started_and_only_once() {
    // Several nodes need a shared database: PostgreSQL runs only.
    let Some(nodes) = spawn_nodes_with(SCHEMA, 2, passkey_config).await else {
        return;
    };
    let nodes: Vec<TestApp> = nodes
        .into_iter()
        .map(TestApp::without_credentials)
        .collect();
    let (a, b) = (&nodes[0], &nodes[1]);
    let (token, user_id) = signed_in(a, "nodes@example.com").await;
    let mut device = Device::new(true);
    let (ceremony, options) = registration_options(a, &token).await;
    let credential = device.create(&options).await;
    let added = finish_registration(b, &token, &ceremony, "Phone", &credential).await;
    assert_eq!(added.status(), 201, "node b finishes node a's registration");

    let (ceremony, options) = sign_in_options(b).await;
    let credential = device.assert(&options).await;
    let data = json_with_status(finish_sign_in(a, &ceremony, &credential).await, 200).await;
    assert_eq!(data["data"]["user"]["id"], user_id.as_str());
    let replayed = finish_sign_in(b, &ceremony, &credential).await;
    assert_problem(replayed, 404, "passkey_ceremony_invalid").await;
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_ceremony_answered_too_late_is_refused() {
    let app = spawn_auth_app(|c| {
        passkey_config(c);
        c.auth.passkeys.ceremony_ttl_secs = 1;
    })
    .await;
    let (token, _) = signed_in(&app, "slow@example.com").await;
    let mut device = Device::new(false);
    add_passkey(&app, &token, &mut device, "Phone").await;
    let (ceremony, options) = sign_in_options(&app).await;
    let credential = device.assert(&options).await;
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let late = finish_sign_in(&app, &ceremony, &credential).await;
    assert_problem(late, 404, "passkey_ceremony_invalid").await;
    // Answered in time, the same passkey signs in.
    signs_in(&app, &mut device).await;
    app.stop().await;
}

#[tokio::test]
async fn an_account_holds_at_most_twenty_passkeys() {
    let app = spawn_passkey_app().await;
    let (token, _) = signed_in(&app, "collector@example.com").await;
    let mut last = None;
    for n in 0..fathom_api::MAX_PASSKEYS {
        last = Some(add_passkey(&app, &token, &mut Device::new(false), &format!("Key {n}")).await);
    }
    let response = crate::auth::support::bearer(
        &app,
        reqwest::Method::POST,
        "/passkeys/registration/options",
        &token,
    )
    .send()
    .await
    .expect("sent");
    assert_problem(response, 409, "passkey_limit_reached").await;
    // A registration started before the limit was reached is refused when it finishes.
    let id = last.expect("a passkey")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(remove(&app, &token, &id).await.status(), 204);
    let (ceremony, options) = registration_options(&app, &token).await;
    let (other, other_options) = registration_options(&app, &token).await;
    let credential = Device::new(false).create(&options).await;
    let added = finish_registration(&app, &token, &ceremony, "Last", &credential).await;
    assert_eq!(added.status(), 201);
    let credential = Device::new(false).create(&other_options).await;
    let refused = finish_registration(&app, &token, &other, "One too many", &credential).await;
    assert_problem(refused, 409, "passkey_limit_reached").await;
    assert_eq!(list(&app, &token).await.len(), fathom_api::MAX_PASSKEYS);
    app.stop().await;
}
