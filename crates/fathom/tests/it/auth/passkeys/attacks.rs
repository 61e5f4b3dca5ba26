//! Passkey responses an attacker could send: a forged signature, an assertion made on another
//! origin, a replayed challenge, a credential the server never registered, a cloned
//! authenticator, a ceremony of the other kind or of another account, malformed bodies. Each
//! is a 4xx with a stable code, never a 5xx, and none signs anyone in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::device::{
    Device, add_passkey, finish_registration, finish_sign_in, registration_options,
    sign_in_options, sign_in_with, signed_in, signs_in, spawn_passkey_app,
};
use crate::auth::support::post_auth;
use crate::helpers::assert_problem;

/// `credential` with one bit of its signature flipped.
fn forged(mut credential: Value) -> Value {
    let signature = credential["response"]["signature"]
        .as_str()
        .expect("signature");
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .expect("base64url");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    credential["response"]["signature"] = json!(URL_SAFE_NO_PAD.encode(bytes));
    credential
}

#[tokio::test]
async fn forged_foreign_replayed_and_unknown_assertions_are_refused() {
    let app = spawn_passkey_app().await;
    let (token, _) = signed_in(&app, "eve-target@example.com").await;
    let mut device = Device::new(false);
    add_passkey(&app, &token, &mut device, "Phone").await;

    // A bad signature.
    let (ceremony, options) = sign_in_options(&app).await;
    let credential = device.assert(&options).await;
    let refused = finish_sign_in(&app, &ceremony, &forged(credential)).await;
    assert_problem(refused, 401, "passkey_invalid").await;

    // From an origin the server does not allow (a subdomain of the relying party, which the
    // browser would let the page use).
    let mut elsewhere = device.at("https://evil.example.com");
    let refused = sign_in_with(&app, &mut elsewhere).await;
    assert_problem(refused, 400, "passkey_origin_mismatch").await;
    let mut device = elsewhere.at(super::device::ORIGIN);

    // A replayed challenge: the same ceremony answered twice, and an old answer to a new one.
    let (ceremony, options) = sign_in_options(&app).await;
    let credential = device.assert(&options).await;
    assert_eq!(
        finish_sign_in(&app, &ceremony, &credential).await.status(),
        200
    );
    let replayed = finish_sign_in(&app, &ceremony, &credential).await;
    assert_problem(replayed, 404, "passkey_ceremony_invalid").await;
    let (fresh, _) = sign_in_options(&app).await;
    let replayed = finish_sign_in(&app, &fresh, &credential).await;
    assert_problem(replayed, 401, "passkey_invalid").await;
    // A failed attempt spends its ceremony too.
    let again = finish_sign_in(&app, &fresh, &credential).await;
    assert_problem(again, 404, "passkey_ceremony_invalid").await;

    // A credential made for this relying party but never registered here.
    let mut stranger = Device::new(false);
    let (_, options) = registration_options(&app, &token).await;
    stranger.create(&options).await;
    assert_problem(
        sign_in_with(&app, &mut stranger).await,
        401,
        "passkey_unknown",
    )
    .await;

    // A ceremony id that was never issued, and one of the other kind.
    let (_, options) = sign_in_options(&app).await;
    let credential = device.assert(&options).await;
    let unknown = finish_sign_in(&app, &uuid::Uuid::new_v4().to_string(), &credential).await;
    assert_problem(unknown, 404, "passkey_ceremony_invalid").await;
    let (registration, _) = registration_options(&app, &token).await;
    let crossed = finish_sign_in(&app, &registration, &credential).await;
    assert_problem(crossed, 404, "passkey_ceremony_invalid").await;

    // After all that, the real passkey still signs in.
    signs_in(&app, &mut device).await;
    app.stop().await;
}

#[tokio::test]
async fn a_cloned_authenticator_is_refused_by_its_counter() {
    let app = spawn_passkey_app().await;
    let (token, _) = signed_in(&app, "counted@example.com").await;
    let mut original = Device::new(true);
    add_passkey(&app, &token, &mut original, "Key").await;
    signs_in(&app, &mut original).await;
    let mut clone = original.clone_keys();
    signs_in(&app, &mut original).await;
    // The clone's counter is one the server has already seen.
    let refused = sign_in_with(&app, &mut clone).await;
    assert_problem(refused, 401, "passkey_counter_regressed").await;
    app.stop().await;
}

#[tokio::test]
async fn registration_ceremonies_are_single_use_and_bound_to_their_account() {
    let app = spawn_passkey_app().await;
    let (alice, _) = signed_in(&app, "alice@example.com").await;
    let (mallory, _) = signed_in(&app, "mallory@example.com").await;
    let mut device = Device::new(false);
    let (ceremony, options) = registration_options(&app, &alice).await;
    let credential = device.create(&options).await;
    // Another account cannot finish Alice's ceremony (and trying spends it).
    let stolen = finish_registration(&app, &mallory, &ceremony, "Mine", &credential).await;
    assert_problem(stolen, 404, "passkey_ceremony_invalid").await;
    let late = finish_registration(&app, &alice, &ceremony, "Phone", &credential).await;
    assert_problem(late, 404, "passkey_ceremony_invalid").await;

    // A registration from a wrong origin, and with a forged attestation, are refused.
    let mut elsewhere = Device::new(false).at("https://evil.example.com");
    let (ceremony, options) = registration_options(&app, &alice).await;
    let credential = elsewhere.create(&options).await;
    let refused = finish_registration(&app, &alice, &ceremony, "Phone", &credential).await;
    assert_problem(refused, 400, "passkey_origin_mismatch").await;
    let (ceremony, options) = registration_options(&app, &alice).await;
    let mut credential = Device::new(false).create(&options).await;
    credential["response"]["clientDataJSON"] =
        json!(URL_SAFE_NO_PAD.encode(b"{\"type\":\"webauthn.create\"}"));
    let refused = finish_registration(&app, &alice, &ceremony, "Phone", &credential).await;
    assert_problem(refused, 401, "passkey_invalid").await;

    // Bad names are validation errors, checked before the ceremony is spent.
    let (ceremony, options) = registration_options(&app, &alice).await;
    let credential = device.create(&options).await;
    for name in [json!(""), json!("x".repeat(101)), json!(7)] {
        let response =
            crate::auth::support::bearer(&app, reqwest::Method::POST, "/passkeys", &alice)
                .json(&json!({"ceremony_id": ceremony, "name": name, "credential": credential}))
                .send()
                .await
                .expect("sent");
        assert_problem(response, 400, "validation_failed").await;
    }
    let response = finish_registration(&app, &alice, &ceremony, "Phone", &credential).await;
    assert_eq!(response.status(), 201, "the ceremony was still there");
    app.stop().await;
}

#[tokio::test]
async fn malformed_sign_in_bodies_are_validation_errors() {
    let app = spawn_passkey_app().await;
    let missing = post_auth(&app, "/passkeys/login", &json!({}), None).await;
    assert_problem(missing, 400, "validation_failed").await;
    let not_an_id = json!({"ceremony_id": "not-a-uuid", "credential": {}});
    let response = post_auth(&app, "/passkeys/login", &not_an_id, None).await;
    assert_problem(response, 400, "validation_failed").await;
    for credential in [
        None,
        Some(json!("text")),
        Some(json!({"id": "AA", "rawId": "AA"})),
    ] {
        // Each spends a ceremony of its own: the ceremony is taken before the answer is read.
        let (ceremony, _) = sign_in_options(&app).await;
        let mut body = json!({"ceremony_id": ceremony});
        if let Some(credential) = credential {
            body["credential"] = credential;
        }
        let response = post_auth(&app, "/passkeys/login", &body, None).await;
        assert_problem(response, 400, "validation_failed").await;
        let again = post_auth(&app, "/passkeys/login", &body, None).await;
        assert_problem(again, 404, "passkey_ceremony_invalid").await;
    }
    app.stop().await;
}
