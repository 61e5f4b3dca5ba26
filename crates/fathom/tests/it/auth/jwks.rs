//! The JWKS publishes the key that signs access tokens (by `kid`), as an Ed25519 OKP key with
//! a 32-byte `x`, and nothing private.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::support::{PASSWORD, login, register, spawn_auth_app};
use crate::helpers::json_with_status;

#[tokio::test]
async fn the_jwks_lists_the_signing_key_of_issued_tokens() {
    let app = spawn_auth_app(|_| {}).await;
    register(&app, "keys@example.com", PASSWORD).await;
    let session = login(&app, "keys@example.com", PASSWORD).await;
    let access = session["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA", "{header}");
    assert_eq!(header["typ"], "JWT", "{header}");
    let kid = header["kid"].as_str().expect("tokens name their key");

    let response = app.get("/api/v1/auth/jwks.json").await;
    let jwks = json_with_status(response, 200).await;
    let keys = jwks["keys"].as_array().expect("a `keys` array");
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("the signing kid {kid} is not published: {jwks}"));
    assert_eq!(key["kty"], "OKP", "{key}");
    assert_eq!(key["crv"], "Ed25519", "{key}");
    assert_eq!(key["alg"], "EdDSA", "{key}");
    assert_eq!(key["use"], "sig", "{key}");
    let x = URL_SAFE_NO_PAD
        .decode(key["x"].as_str().expect("x is a string"))
        .expect("x is unpadded base64url");
    assert_eq!(x.len(), 32, "an Ed25519 public key is 32 bytes");
    for entry in keys {
        assert!(
            entry.get("d").is_none(),
            "the JWKS must not publish private key material: {entry}"
        );
    }

    // The published key is the one in the server's database.
    let stored = app.store.signing_keys().await.unwrap();
    let stored = stored.iter().find(|k| k.kid == kid).expect("kid is stored");
    assert_eq!(stored.public_key, x);
}

/// Nodes that start together on one database each create a signing key. A node must learn a
/// key another node created at the first token that names it, even moments after its own start
/// (this once refused tokens for two seconds after start-up); made-up key ids still cannot make
/// it reload more than once every two seconds.
#[tokio::test]
async fn a_key_another_node_created_is_learnt_at_its_first_token_even_right_after_start() {
    let app = spawn_auth_app(|_| {}).await;
    let this_node = fathom_api::Keys::load(&app.store).await.expect("keys");
    let before: Vec<String> = this_node
        .ring(&app.store, false)
        .await
        .kids()
        .map(str::to_owned)
        .collect();

    let other_node_key = fathom_api::rotate_signing_key(&app.store)
        .await
        .expect("another node's key");
    assert!(!before.contains(&other_node_key));
    let ring = this_node.ring(&app.store, true).await;
    assert!(
        ring.kids().any(|kid| kid == other_node_key),
        "a token naming {other_node_key} must make the node reload its keys"
    );

    let newer_key = fathom_api::rotate_signing_key(&app.store)
        .await
        .expect("a newer key");
    let ring = this_node.ring(&app.store, true).await;
    assert!(
        !ring.kids().any(|kid| kid == newer_key),
        "a second unknown key id right after a reload is throttled"
    );
}
