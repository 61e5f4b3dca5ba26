//! OAuth2 / OpenID Connect sign-in over real HTTP both ways: Fathom against the tests' own
//! provider (`oauth_idp.rs`), every redirect followed by hand (`oauth_flow.rs`). The attacks of
//! issue 19 on part 1: forged, expired, wrong-audience, wrong-issuer and unsigned `id_token`s, a
//! replayed `state`, a missing or `plain` PKCE challenge, redirect URIs one path suffix, port or
//! subdomain away, an unverified provider email matching an account, and a code redeemed twice,
//! also concurrently. Plus linking and unlinking rules, and the GitHub preset.

use reqwest::Method;
use serde_json::json;

use super::oauth_flow::*;
use super::oauth_idp::{Person, Tamper, TestIdp};
use super::support::{
    PASSWORD, bearer, login, login_response, post_auth, refresh_response, spawn_auth_app,
};
use crate::helpers::{assert_problem, json_with_status};

#[tokio::test]
async fn oidc_sign_in_creates_an_account_without_a_password_and_signs_it_in_again() {
    let (app, idp) = spawn().await;
    idp.answer(Person::new("subject-new", "New.Person@Example.com", true));
    let first = sign_in(&app, "test").await;
    assert_eq!(first["user"]["email"], "new.person@example.com");
    assert_eq!(first["user"]["verified"], true);
    let token = first["access_token"].as_str().expect("token");
    let me = super::support::me(&app, token).await;
    assert_eq!(me["id"], first["user"]["id"]);
    let linked = identities(&app, token).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "test");
    assert_eq!(linked[0]["subject"], "subject-new");
    // The same subject signs in to the same account, even with another email now.
    idp.answer(Person::new("subject-new", "renamed@example.com", true));
    let again = sign_in(&app, "test").await;
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    // The account has no usable password: a password sign-in is the uniform refusal.
    let refused = login_response(&app, "new.person@example.com", "", None).await;
    assert_problem(refused, 400, "validation_failed").await;
    let refused = login_response(&app, "new.person@example.com", "!none", None).await;
    assert_problem(refused, 401, "invalid_credentials").await;
    // An unknown provider is a 404.
    let unknown = authorize(&app, "nope", &good_params(&challenge(&new_verifier()))).await;
    assert_problem(unknown, 404, "oauth_provider_unknown").await;
}

#[tokio::test]
async fn forged_expired_misaddressed_and_unsigned_id_tokens_are_refused() {
    let (app, idp) = spawn().await;
    // Each refusal names its own reason, so none passes for another's.
    for (tamper, subject, reason) in [
        (Tamper::Forged, "forged", "signature"),
        (Tamper::Expired, "expired", "expired"),
        (Tamper::WrongAudience, "audience", "another client"),
        (Tamper::WrongIssuer, "issuer", "another issuer"),
        (Tamper::Unsigned, "unsigned", "algorithm"),
        (Tamper::WrongNonce, "nonce", "nonce"),
    ] {
        idp.answer(Person::new(
            subject,
            &format!("{subject}@example.com"),
            true,
        ));
        idp.tamper(tamper);
        let answered = to_callback(&app, "test", &new_verifier()).await;
        let body = assert_problem(answered, 401, "oauth_id_token_invalid").await;
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{tamper:?}: {body}");
        let created = app
            .store
            .user_by_email(&format!("{subject}@example.com"))
            .await
            .expect("read");
        assert!(created.is_none(), "{tamper:?} made an account");
    }
    // The same provider, untampered, still signs in: the refusals were about the tokens.
    idp.tamper(Tamper::None);
    idp.answer(Person::new("fine", "fine@example.com", true));
    sign_in(&app, "test").await;
}

#[tokio::test]
async fn a_replayed_or_unknown_state_is_refused() {
    let (app, idp) = spawn().await;
    idp.answer(Person::new("replay", "replay@example.com", true));
    let verifier = new_verifier();
    let started = authorize(&app, "test", &good_params(&challenge(&verifier))).await;
    let callback = through_provider(&app, &location(&started)).await;
    let first = get(&callback).await;
    assert_eq!(first.status(), 302);
    let replayed = get(&callback).await;
    assert_problem(replayed, 400, "oauth_state_invalid").await;
    let unknown = get(&app.url("/api/v1/auth/oauth/test/callback?code=x&state=made-up")).await;
    assert_problem(unknown, 400, "oauth_state_invalid").await;
    let missing = get(&app.url("/api/v1/auth/oauth/test/callback?code=x")).await;
    assert_problem(missing, 400, "oauth_state_invalid").await;
}

#[tokio::test]
async fn pkce_is_required_and_only_s256() {
    let (app, _idp) = spawn().await;
    let verifier = new_verifier();
    let challenge = challenge(&verifier);
    let missing = authorize(&app, "test", &[("redirect_uri", APP), ("state", "s")]).await;
    assert_problem(missing, 400, "oauth_pkce_required").await;
    let plain = authorize(
        &app,
        "test",
        &[
            ("redirect_uri", APP),
            ("state", "s"),
            ("code_challenge", &verifier),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_problem(plain, 400, "oauth_pkce_required").await;
    let no_method = authorize(
        &app,
        "test",
        &[
            ("redirect_uri", APP),
            ("state", "s"),
            ("code_challenge", &challenge),
        ],
    )
    .await;
    assert_problem(no_method, 400, "oauth_pkce_required").await;
    let fine = authorize(&app, "test", &good_params(&challenge)).await;
    assert_eq!(fine.status(), 302);
}

#[tokio::test]
async fn redirect_uris_are_matched_exactly() {
    let (app, _idp) = spawn().await;
    let challenge = challenge(&new_verifier());
    for uri in [
        "https://app.example.com/cb/more",
        "https://app.example.com/cbx",
        "https://app.example.com:8443/cb",
        "https://evil.app.example.com/cb",
        "https://app.example.com/cb?next=evil",
        "https://APP.example.com/cb",
        "com.example.app:/oauth/x",
    ] {
        let mut params = good_params(&challenge);
        params[0] = ("redirect_uri", uri);
        let refused = authorize(&app, "test", &params).await;
        assert_problem(refused, 400, "oauth_redirect_uri_not_allowed").await;
    }
    let mut params = good_params(&challenge);
    params[0] = ("redirect_uri", "com.example.app:/oauth");
    let mobile = authorize(&app, "test", &params).await;
    assert_eq!(mobile.status(), 302, "the mobile app's URI is allowed");
}

#[tokio::test]
async fn an_unverified_email_on_either_side_does_not_link() {
    let (app, idp) = spawn().await;
    let alice = account(&app, "alice@example.com", true).await;
    idp.answer(Person::new("alice-unverified", "alice@example.com", false));
    let refused = to_callback(&app, "test", &new_verifier()).await;
    assert_problem(refused, 409, "oauth_account_exists").await;
    let linked = app.store.oauth_identities(alice).await.expect("read");
    assert!(
        linked.is_empty(),
        "an unverified provider email linked: {linked:?}"
    );
    // The account itself is untouched.
    login(&app, "alice@example.com", PASSWORD).await;

    let bob = account(&app, "bob@example.com", false).await;
    idp.answer(Person::new("bob-verified", "bob@example.com", true));
    let refused = to_callback(&app, "test", &new_verifier()).await;
    assert_problem(refused, 409, "oauth_account_exists").await;
    assert!(
        app.store
            .oauth_identities(bob)
            .await
            .expect("read")
            .is_empty()
    );

    // Verified on both sides: linked, and the sign-in reaches the existing account.
    idp.answer(Person::new("alice-verified", "alice@example.com", true));
    let data = sign_in(&app, "test").await;
    assert_eq!(data["user"]["id"], alice.to_string());
    assert_eq!(
        app.store.oauth_identities(alice).await.expect("read").len(),
        1
    );
}

#[tokio::test]
async fn a_code_redeemed_twice_is_refused_and_the_first_session_revoked() {
    let (app, idp) = spawn().await;
    idp.answer(Person::new("twice", "twice@example.com", true));
    let verifier = new_verifier();
    let code = code_for(&app, "test", &verifier).await;
    let first = json_with_status(redeem(&app, &code, &verifier).await, 200).await["data"].clone();
    let second = redeem(&app, &code, &verifier).await;
    assert_problem(second, 400, "oauth_code_invalid").await;
    let refresh = refresh_response(&app, first["refresh_token"].as_str().expect("refresh")).await;
    assert_eq!(
        refresh.status(),
        401,
        "the first redemption's session lives on"
    );
    let me = bearer(
        &app,
        Method::GET,
        "/me",
        first["access_token"].as_str().expect("token"),
    )
    .send()
    .await
    .expect("sent");
    assert_eq!(
        me.status(),
        401,
        "the first redemption's access token still works"
    );
}

#[tokio::test]
async fn a_code_redeemed_concurrently_leaves_no_live_session() {
    let (app, idp) = spawn().await;
    idp.answer(Person::new("race", "race@example.com", true));
    let verifier = new_verifier();
    let code = code_for(&app, "test", &verifier).await;
    let attempts = (0..8).map(|_| redeem(&app, &code, &verifier));
    let answers = futures_util::future::join_all(attempts).await;
    let mut granted = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            200 => granted.push(json_with_status(answer, 200).await["data"].clone()),
            _ => {
                assert_problem(answer, 400, "oauth_code_invalid").await;
            }
        }
    }
    assert!(
        granted.len() <= 1,
        "{} redemptions succeeded",
        granted.len()
    );
    // Every attempt after the first was a reuse, so whatever the first got is revoked.
    for data in granted {
        let refresh =
            refresh_response(&app, data["refresh_token"].as_str().expect("refresh")).await;
        assert_eq!(refresh.status(), 401, "a session of a reused code lives on");
    }
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_redirect_uri_and_is_spent_by_a_wrong_one() {
    let (app, idp) = spawn().await;
    idp.answer(Person::new("verifier", "verifier@example.com", true));
    let verifier = new_verifier();
    let code = code_for(&app, "test", &verifier).await;
    let wrong = redeem(&app, &code, &new_verifier()).await;
    assert_problem(wrong, 400, "oauth_code_invalid").await;
    let spent = redeem(&app, &code, &verifier).await;
    assert_problem(spent, 400, "oauth_code_invalid").await;

    let code = code_for(&app, "test", &verifier).await;
    let elsewhere = post_auth(
        &app,
        "/oauth/token",
        &json!({"code": code, "code_verifier": verifier, "redirect_uri": "com.example.app:/oauth"}),
        None,
    )
    .await;
    assert_problem(elsewhere, 400, "oauth_code_invalid").await;
    let malformed = redeem(&app, "whatever", "short").await;
    assert_problem(malformed, 400, "validation_failed").await;
}

#[tokio::test]
async fn a_signed_in_user_links_explicitly_and_cannot_unlink_the_last_way_in() {
    let (app, idp) = spawn().await;
    // An unverified account with a password links an identity of another address explicitly.
    let carol = account(&app, "carol@example.com", false).await;
    let session = login(&app, "carol@example.com", PASSWORD).await;
    let token = session["access_token"].as_str().expect("token").to_owned();
    idp.answer(Person::new(
        "carol-elsewhere",
        "carol.other@example.com",
        false,
    ));
    let verifier = new_verifier();
    let challenge = challenge(&verifier);
    let started = bearer(&app, Method::POST, "/oauth/test/link", &token)
        .json(&json!({
            "redirect_uri": APP, "state": "client-state-1",
            "code_challenge": challenge, "code_challenge_method": "S256",
        }))
        .send()
        .await
        .expect("sent");
    let started = json_with_status(started, 200).await;
    let provider_url = started["data"]["authorize_url"].as_str().expect("url");
    let callback = through_provider(&app, provider_url).await;
    let back = location(&get(&callback).await);
    let code = query_of(&back)["code"].clone();
    assert!(
        identities(&app, &token).await.is_empty(),
        "linked before the code was redeemed"
    );
    let data = json_with_status(redeem(&app, &code, &verifier).await, 200).await["data"].clone();
    assert_eq!(data["user"]["id"], carol.to_string());
    let linked = identities(&app, &token).await;
    assert_eq!(linked.len(), 1, "{linked:?}");

    // Another account cannot take the same identity.
    account(&app, "dave@example.com", true).await;
    let dave = login(&app, "dave@example.com", PASSWORD).await;
    let dave_token = dave["access_token"].as_str().expect("token");
    let verifier = new_verifier();
    let challenge = self::challenge(&verifier);
    let started = bearer(&app, Method::POST, "/oauth/test/link", dave_token)
        .json(&json!({
            "redirect_uri": APP, "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256",
        }))
        .send()
        .await
        .expect("sent");
    let started = json_with_status(started, 200).await;
    let callback = through_provider(
        &app,
        started["data"]["authorize_url"].as_str().expect("url"),
    )
    .await;
    assert_problem(get(&callback).await, 409, "oauth_identity_taken").await;

    // Carol has a password, so the identity may go.
    let id = linked[0]["id"].as_str().expect("id");
    let removed = bearer(&app, Method::DELETE, &format!("/identities/{id}"), &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(removed.status(), 204);
    let again = bearer(&app, Method::DELETE, &format!("/identities/{id}"), &token)
        .send()
        .await
        .expect("sent");
    assert_problem(again, 404, "oauth_identity_not_found").await;

    // An account made by sign-in has only its identity: unlinking it is refused.
    idp.answer(Person::new("only-way", "only@example.com", true));
    let only = sign_in(&app, "test").await;
    let only_token = only["access_token"].as_str().expect("token");
    let only_linked = identities(&app, only_token).await;
    let only_id = only_linked[0]["id"].as_str().expect("id");
    let refused = bearer(
        &app,
        Method::DELETE,
        &format!("/identities/{only_id}"),
        only_token,
    )
    .send()
    .await
    .expect("sent");
    assert_problem(refused, 409, "last_sign_in_method").await;
    assert_eq!(identities(&app, only_token).await.len(), 1);
}

#[tokio::test]
async fn the_github_preset_signs_in_with_the_verified_primary_email() {
    let (app, idp) = spawn().await;
    let erin = account(&app, "erin@example.com", true).await;
    // An unverified primary address matching the account does not link.
    idp.answer(Person::new("4242", "erin@example.com", false));
    let refused = to_callback(&app, "github", &new_verifier()).await;
    assert_problem(refused, 409, "oauth_account_exists").await;
    // A verified primary address does.
    idp.answer(Person::new("4242", "erin@example.com", true));
    let data = sign_in(&app, "github").await;
    assert_eq!(data["user"]["id"], erin.to_string());
    let linked = app.store.oauth_identities(erin).await.expect("read");
    assert_eq!(linked[0].provider, "github");
    assert_eq!(linked[0].subject, "4242");
    // A new GitHub user whose only verified address is a secondary one gets an account there.
    idp.answer(Person::new("777", "unused@example.com", false));
    idp.github_emails(json!([
        {"email": "primary@example.com", "primary": true, "verified": false},
        {"email": "second@example.com", "primary": false, "verified": true},
    ]));
    let data = sign_in(&app, "github").await;
    assert_eq!(data["user"]["email"], "second@example.com");
    assert_eq!(data["user"]["verified"], true);
}

#[tokio::test]
async fn the_oauth_routes_and_their_description_exist_only_with_providers() {
    let (app, _idp) = spawn().await;
    let document = json_with_status(get(&app.url("/api/v1/openapi.json")).await, 200).await;
    for (path, method) in [
        ("/api/v1/auth/oauth/providers", "get"),
        ("/api/v1/auth/oauth/{provider}/authorize", "get"),
        ("/api/v1/auth/oauth/{provider}/callback", "get"),
        ("/api/v1/auth/oauth/{provider}/link", "post"),
        ("/api/v1/auth/oauth/token", "post"),
        ("/api/v1/auth/identities", "get"),
        ("/api/v1/auth/identities/{id}", "delete"),
    ] {
        assert!(
            document["paths"][path][method].is_object(),
            "{method} {path} is not described"
        );
    }
    for schema in [
        "OAuthProvider",
        "OAuthIdentity",
        "OAuthLinkRequest",
        "OAuthTokenRequest",
    ] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
    let listed = json_with_status(get(&app.url("/api/v1/auth/oauth/providers")).await, 200).await;
    assert_eq!(
        listed["data"],
        json!([{"name": "github", "kind": "github"}, {"name": "test", "kind": "oidc"}])
    );

    let plain = spawn_auth_app(|_| {}).await;
    let document = json_with_status(get(&plain.url("/api/v1/openapi.json")).await, 200).await;
    assert!(document["paths"]["/api/v1/auth/identities"].is_null());
    let absent = get(&plain.url("/api/v1/auth/oauth/providers")).await;
    assert_problem(absent, 404, "route_not_found").await;
}

#[tokio::test]
async fn a_link_flow_finished_by_someone_else_links_nothing() {
    // The attacker begins a link to their own account and gets a victim through the provider;
    // the code lands in the victim's app, which lacks the attacker's verifier.
    let (app, idp) = spawn().await;
    account(&app, "mallory@example.com", true).await;
    let mallory = login(&app, "mallory@example.com", PASSWORD).await;
    let token = mallory["access_token"].as_str().expect("token");
    let attacker_verifier = new_verifier();
    let started = bearer(&app, Method::POST, "/oauth/test/link", token)
        .json(&json!({
            "redirect_uri": APP, "state": "s",
            "code_challenge": challenge(&attacker_verifier), "code_challenge_method": "S256",
        }))
        .send()
        .await
        .expect("sent");
    let started = json_with_status(started, 200).await;
    idp.answer(Person::new("victim", "victim@example.com", true));
    let callback = through_provider(
        &app,
        started["data"]["authorize_url"].as_str().expect("url"),
    )
    .await;
    let code = query_of(&location(&get(&callback).await))["code"].clone();
    let victims_try = redeem(&app, &code, &new_verifier()).await;
    assert_problem(victims_try, 400, "oauth_code_invalid").await;
    assert!(
        identities(&app, token).await.is_empty(),
        "the victim's identity was linked"
    );
    let linked = app
        .store
        .oauth_identity("test", "victim")
        .await
        .expect("read");
    assert!(linked.is_none());
}

#[tokio::test]
async fn a_code_expires() {
    let idp = TestIdp::start().await;
    let app = spawn_auth_app(|c| {
        configure(c, &idp);
        c.oauth.code_ttl_secs = 10;
    })
    .await;
    idp.answer(Person::new("slow", "slow@example.com", true));
    let verifier = new_verifier();
    let code = code_for(&app, "test", &verifier).await;
    tokio::time::sleep(std::time::Duration::from_millis(10_500)).await;
    let late = redeem(&app, &code, &verifier).await;
    assert_problem(late, 400, "oauth_code_invalid").await;
}

#[tokio::test]
async fn an_account_with_totp_on_proves_its_second_factor_after_the_provider_too() {
    use super::totp::support::{code_at, enable, second_factor};
    let (app, idp) = spawn().await;
    idp.answer(Person::new("subject-2fa", "two.factors@example.com", true));
    let first = sign_in(&app, "test").await;
    let (totp, _) = enable(&app, first["access_token"].as_str().expect("token")).await;
    let verifier = new_verifier();
    let code = code_for(&app, "test", &verifier).await;
    let body = json_with_status(redeem(&app, &code, &verifier).await, 202).await;
    assert!(body["data"].get("access_token").is_none(), "{body}");
    let challenge = body["data"]["challenge"].as_str().expect("a challenge");
    // The code is spent by the challenge: redeeming it again signs nobody in.
    assert_problem(
        redeem(&app, &code, &verifier).await,
        400,
        "oauth_code_invalid",
    )
    .await;
    let answered = second_factor(&app, challenge, &code_at(&totp, 1)).await;
    let signed_in = json_with_status(answered, 200).await;
    assert_eq!(signed_in["data"]["user"]["id"], first["user"]["id"]);
}

/// The ways to sign in are counted together: an account made by an OAuth sign-in (no password)
/// may unlink its identity once it has a passkey, and may not then remove that last passkey.
#[tokio::test]
async fn an_identity_and_a_passkey_each_count_as_a_way_to_sign_in() {
    use super::passkeys::device::{Device, add_passkey, passkey_config, remove, signs_in};
    let idp = TestIdp::start().await;
    let app = spawn_auth_app(|c| {
        configure(c, &idp);
        passkey_config(c);
    })
    .await;
    idp.answer(Person::new("subject-ways", "ways@example.com", true));
    let first = sign_in(&app, "test").await;
    let token = first["access_token"].as_str().expect("token").to_owned();
    let identity = identities(&app, &token).await[0]["id"]
        .as_str()
        .expect("an identity id")
        .to_owned();
    let unlink = |token: String, id: String| {
        let app = &app;
        async move {
            bearer(app, Method::DELETE, &format!("/identities/{id}"), &token)
                .send()
                .await
                .expect("the unlink answers")
        }
    };
    // The identity alone: refused.
    let refused = unlink(token.clone(), identity.clone()).await;
    assert_problem(refused, 409, "last_sign_in_method").await;
    // With a passkey besides it, the identity may go.
    let mut device = Device::new(false);
    let passkey = add_passkey(&app, &token, &mut device, "Laptop").await;
    assert_eq!(unlink(token.clone(), identity).await.status(), 204);
    // The passkey is now the last way in: it stays, and still signs in.
    let passkey_id = passkey["id"].as_str().expect("a passkey id");
    assert_problem(
        remove(&app, &token, passkey_id).await,
        409,
        "last_sign_in_method",
    )
    .await;
    let again = signs_in(&app, &mut device).await;
    assert_eq!(again["user"]["id"], first["user"]["id"]);
}

#[tokio::test]
async fn a_server_that_signs_in_only_verified_accounts_refuses_an_unverified_oauth_account() {
    let idp = TestIdp::start().await;
    let app = spawn_auth_app(|c| {
        configure(c, &idp);
        c.auth.require_verified_email = true;
    })
    .await;
    idp.answer(Person::new(
        "subject-unverified",
        "unverified@example.com",
        false,
    ));
    // Refused at the callback, before any code is made.
    let refused = to_callback(&app, "test", &new_verifier()).await;
    assert_problem(refused, 403, "email_not_verified").await;
    // A verified one signs in on the same server.
    idp.answer(Person::new(
        "subject-verified",
        "verified@example.com",
        true,
    ));
    let signed_in = sign_in(&app, "test").await;
    assert_eq!(signed_in["user"]["verified"], true);
}
