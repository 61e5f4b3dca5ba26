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
