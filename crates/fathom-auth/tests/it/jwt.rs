//! Access tokens: the round trip, the attack suite, rotation and the JWKS.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fathom_auth::{
    AuthError, AuthErrorKind, Claims, KeyRing, SigningKey, TokenConfig, TokenSubject,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

fn config() -> TokenConfig {
    TokenConfig {
        leeway_secs: 0,
        ..TokenConfig::new("https://fathom.test", "fathom-api")
    }
}

fn subject() -> TokenSubject {
    TokenSubject {
        sub: "user-1".into(),
        roles: vec!["member".into(), "editor".into()],
        tenant: Some("acme".into()),
        verified: true,
        sid: "session-1".into(),
    }
}

struct Fixture {
    key: SigningKey,
    ring: KeyRing,
    token: String,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate(NOW - 3_600);
    let ring = KeyRing::new(vec![key.clone()]).expect("a generated key makes a valid ring");
    let token = ring
        .issue(&config(), &subject(), NOW)
        .expect("the ring has a signing key");
    Fixture { key, ring, token }
}

/// Valid claims for `NOW`, as JSON, for hand-made tokens.
fn claims_json() -> Value {
    json!({
        "sub": "user-1", "roles": ["admin"], "verified": true, "sid": "session-1",
        "iss": "https://fathom.test", "aud": "fathom-api",
        "exp": NOW + 900, "nbf": NOW, "iat": NOW, "jti": "forged",
    })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("a JSON value serializes"))
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

/// Signs `claims` with `key` exactly as we would, but lets the test choose the claims.
fn sign_with(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_der(&key.private_pkcs8_der),
    )
    .expect("a generated key signs")
}

fn verify(ring: &KeyRing, token: &str) -> Result<Claims, AuthError> {
    ring.verify(&config(), token, NOW)
}

#[test]
fn issued_tokens_verify_with_every_claim() {
    let Fixture { key, ring, token } = fixture();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));

    let claims = verify(&ring, &token).unwrap();
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.roles, ["member", "editor"]);
    assert_eq!(claims.tenant.as_deref(), Some("acme"));
    assert!(claims.verified);
    assert_eq!(claims.sid, "session-1");
    assert_eq!(claims.iss, "https://fathom.test");
    assert_eq!(claims.aud, "fathom-api");
    assert_eq!((claims.iat, claims.nbf, claims.exp), (NOW, NOW, NOW + 900));
    assert_eq!(claims.jti.len(), 22);

    let other = ring.issue(&config(), &subject(), NOW).unwrap();
    assert_ne!(verify(&ring, &other).unwrap().jti, claims.jti);

    let no_tenant = TokenSubject {
        tenant: None,
        ..subject()
    };
    let token = ring.issue(&config(), &no_tenant, NOW).unwrap();
    assert_eq!(verify(&ring, &token).unwrap().tenant, None);
}

#[test]
fn alg_none_is_refused() {
    let Fixture { key, ring, token } = fixture();
    let signature = parts(&token)[2].clone();
    for alg in ["none", "None", "NONE", ""] {
        let header = b64(&json!({"alg": alg, "typ": "JWT", "kid": key.kid}));
        let payload = b64(&claims_json());
        for forged in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
            format!("{header}.{payload}.{signature}"),
        ] {
            let error = verify(&ring, &forged).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::InvalidToken, "{alg}: {error}");
        }
    }
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    let Fixture { key, ring, .. } = fixture();
    let x = URL_SAFE_NO_PAD.encode(key.public_key);
    for secret in [key.public_key.to_vec(), x.into_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.typ = Some("JWT".into());
            header.kid = Some(key.kid.clone());
            let forged =
                jsonwebtoken::encode(&header, &claims_json(), &EncodingKey::from_secret(&secret))
                    .unwrap();
            assert_eq!(verify(&ring, &forged), Err(AuthError::UnacceptedAlgorithm));
        }
    }
}

#[test]
fn rsa_and_ecdsa_headers_are_refused() {
    let Fixture { key, ring, token } = fixture();
    let [_, payload, signature] = <[String; 3]>::try_from(parts(&token)).unwrap();
    for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA25519", "ed25519"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT", "kid": key.kid}));
        let forged = format!("{header}.{payload}.{signature}");
        assert!(verify(&ring, &forged).is_err(), "{alg}");
    }
}

#[test]
fn a_different_typ_is_refused() {
    let Fixture { key, ring, .. } = fixture();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims_json(),
        &EncodingKey::from_ed_der(&key.private_pkcs8_der),
    )
    .unwrap();
    assert_eq!(verify(&ring, &token), Err(AuthError::UnacceptedAlgorithm));
    // The same claims with our header verify, so the refusal above is about `typ` alone.
    assert!(verify(&ring, &sign_with(&key, &claims_json())).is_ok());
}

#[test]
fn unknown_or_missing_kid_is_refused() {
    let Fixture { ring, .. } = fixture();
    let stranger = SigningKey::generate(NOW - 10);
    assert_eq!(
        verify(&ring, &sign_with(&stranger, &claims_json())),
        Err(AuthError::UnknownKey)
    );

    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    let no_kid = jsonwebtoken::encode(
        &header,
        &claims_json(),
        &EncodingKey::from_ed_der(&stranger.private_pkcs8_der),
    )
    .unwrap();
    assert_eq!(verify(&ring, &no_kid), Err(AuthError::UnknownKey));
}

#[test]
fn a_strangers_signature_under_our_kid_is_refused() {
    let Fixture { key, ring, .. } = fixture();
    let mut impostor = SigningKey::generate(NOW - 10);
    impostor.kid.clone_from(&key.kid);
    assert_eq!(
        verify(&ring, &sign_with(&impostor, &claims_json())),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn expiry_is_checked_against_now_with_leeway() {
    let Fixture { ring, token, .. } = fixture();
    let strict = config();
    assert!(ring.verify(&strict, &token, NOW + 899).is_ok());
    assert_eq!(
        ring.verify(&strict, &token, NOW + 900),
        Err(AuthError::Expired)
    );
    assert_eq!(
        ring.verify(&strict, &token, NOW + 100_000),
        Err(AuthError::Expired)
    );
    assert_eq!(AuthError::Expired.kind(), AuthErrorKind::Expired);

    let lenient = TokenConfig {
        leeway_secs: 30,
        ..config()
    };
    assert!(ring.verify(&lenient, &token, NOW + 929).is_ok());
    assert_eq!(
        ring.verify(&lenient, &token, NOW + 930),
        Err(AuthError::Expired)
    );
}

#[test]
fn not_before_in_the_future_is_refused() {
    let Fixture { key, ring, token } = fixture();
    assert_eq!(
        ring.verify(&config(), &token, NOW - 1),
        Err(AuthError::NotYetValid)
    );
    let mut claims = claims_json();
    claims["nbf"] = json!(NOW + 60);
    let early = sign_with(&key, &claims);
    assert_eq!(verify(&ring, &early), Err(AuthError::NotYetValid));
    let lenient = TokenConfig {
        leeway_secs: 60,
        ..config()
    };
    assert!(ring.verify(&lenient, &early, NOW).is_ok());
}

#[test]
fn wrong_audience_or_issuer_is_refused() {
    let Fixture { key, ring, token } = fixture();
    let other_audience = TokenConfig {
        audience: "another-api".into(),
        ..config()
    };
    assert_eq!(
        ring.verify(&other_audience, &token, NOW),
        Err(AuthError::WrongAudience)
    );
    let other_issuer = TokenConfig {
        issuer: "https://evil.test".into(),
        ..config()
    };
    assert_eq!(
        ring.verify(&other_issuer, &token, NOW),
        Err(AuthError::WrongIssuer)
    );

    // Validly signed tokens carrying other values, or an audience list, or no audience at all.
    for (field, value) in [
        ("aud", json!("another-api")),
        ("aud", json!(["fathom-api", "another-api"])),
        ("aud", Value::Null),
        ("iss", json!("https://evil.test")),
        ("iss", Value::Null),
        ("exp", Value::Null),
        ("sub", Value::Null),
    ] {
        let mut claims = claims_json();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(field);
        } else {
            claims[field] = value.clone();
        }
        let error = verify(&ring, &sign_with(&key, &claims)).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidToken, "{field}={value}");
    }
}

#[test]
fn an_altered_payload_is_refused() {
    let Fixture { ring, token, .. } = fixture();
    let [header, payload, signature] = <[String; 3]>::try_from(parts(&token)).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap()).unwrap();
    for (field, value) in [
        ("sub", json!("admin")),
        ("roles", json!(["admin"])),
        ("exp", json!(NOW + 10_000_000)),
    ] {
        claims[field] = value;
        let forged = format!("{header}.{}.{signature}", b64(&claims));
        assert_eq!(
            verify(&ring, &forged),
            Err(AuthError::InvalidSignature),
            "{field}"
        );
    }
}

#[test]
fn a_damaged_signature_is_refused() {
    let Fixture { ring, token, .. } = fixture();
    let [header, payload, signature] = <[String; 3]>::try_from(parts(&token)).unwrap();
    let mut damaged = vec![
        format!("{header}.{payload}.{}", &signature[..signature.len() - 4]),
        format!("{header}.{payload}.{}", &signature[..signature.len() / 2]),
        format!("{header}.{payload}."),
        format!("{header}.{payload}.{signature}AAAA"),
    ];
    let mut bytes = URL_SAFE_NO_PAD.decode(&signature).unwrap();
    bytes[10] ^= 0x01;
    damaged.push(format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(&bytes)
    ));
    for forged in damaged {
        let error = verify(&ring, &forged).unwrap_err();
        assert_eq!(
            error.kind(),
            AuthErrorKind::InvalidToken,
            "{forged}: {error}"
        );
    }
}

#[test]
fn every_single_character_change_is_refused() {
    let Fixture { ring, token, .. } = fixture();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for (index, original) in token.bytes().enumerate() {
        for &replacement in [b'A', b'z', b'_', b'.'].iter().filter(|&&c| c != original) {
            let mut bytes = token.clone().into_bytes();
            bytes[index] = replacement;
            let forged = String::from_utf8(bytes).unwrap();
            assert!(alphabet.contains(&replacement));
            assert!(
                verify(&ring, &forged).is_err(),
                "changing byte {index} to {} was accepted",
                char::from(replacement)
            );
        }
    }
}

#[test]
fn garbage_is_refused_without_panicking() {
    let Fixture { ring, token, .. } = fixture();
    let long = "a".repeat(100_000);
    let header_only = b64(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "x"}));
    let garbage = [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "a.b.c.d",
        "not a token",
        "eyJ.eyJ.sig",
        "ü.ü.ü",
        "\0\0\0",
        "Bearer x.y.z",
        long.as_str(),
        &format!("{header_only}.%%%.abc"),
        &format!("{header_only}.{}.abc", b64(&json!("just a string"))),
        &format!("{header_only}.{}.abc", b64(&json!([1, 2, 3]))),
        &format!("{token}.extra"),
        &format!(" {token}"),
        &format!("{token} "),
        &token.replace('.', ".."),
    ];
    for input in garbage {
        let error = verify(&ring, input).unwrap_err();
        assert_eq!(
            error.kind(),
            AuthErrorKind::InvalidToken,
            "{input:?}: {error}"
        );
    }
}

#[test]
fn a_retired_key_verifies_until_it_leaves_the_ring() {
    let mut old = SigningKey::generate(NOW - 10_000);
    let ring = KeyRing::new(vec![old.clone()]).unwrap();
    let old_token = ring.issue(&config(), &subject(), NOW - 100).unwrap();

    // Rotate: a new key signs from now on, the old one is retired but kept for verification.
    old.retired_at = Some(NOW - 50);
    let new = SigningKey::generate(NOW - 50);
    let rotated = KeyRing::new(vec![old.clone(), new.clone()]).unwrap();
    assert_eq!(rotated.signing_kid(NOW), Some(new.kid.as_str()));
    let old_claims = rotated.verify(&config(), &old_token, NOW).unwrap();
    assert_eq!(old_claims.sub, "user-1");
    let new_token = rotated.issue(&config(), &subject(), NOW).unwrap();
    let header = jsonwebtoken::decode_header(&new_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()));
    assert!(rotated.verify(&config(), &new_token, NOW).is_ok());

    // Drop the old key: its tokens stop verifying, the new key's keep working.
    let pruned = KeyRing::new(vec![new]).unwrap();
    assert_eq!(
        pruned.verify(&config(), &old_token, NOW),
        Err(AuthError::UnknownKey)
    );
    assert!(pruned.verify(&config(), &new_token, NOW).is_ok());

    // A ring whose keys are all retired still verifies but cannot sign.
    let retired_only = KeyRing::new(vec![old]).unwrap();
    assert_eq!(
        retired_only.issue(&config(), &subject(), NOW),
        Err(AuthError::NoSigningKey)
    );
    assert!(retired_only.verify(&config(), &old_token, NOW).is_ok());
}

#[test]
fn jwks_publishes_every_verifying_key() {
    let mut old = SigningKey::generate(NOW - 10_000);
    old.retired_at = Some(NOW - 50);
    let new = SigningKey::generate(NOW - 50);
    let ring = KeyRing::new(vec![old.clone(), new.clone()]).unwrap();
    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for (entry, key) in keys.iter().zip([&new, &old]) {
        assert_eq!(entry["kty"], "OKP");
        assert_eq!(entry["crv"], "Ed25519");
        assert_eq!(entry["alg"], "EdDSA");
        assert_eq!(entry["use"], "sig");
        assert_eq!(entry["kid"], key.kid.as_str());
        let x = entry["x"].as_str().unwrap();
        assert!(
            !x.contains('=') && !x.contains('+') && !x.contains('/'),
            "{x}"
        );
        let decoded = URL_SAFE_NO_PAD.decode(x).unwrap();
        assert_eq!(decoded.len(), 32);
        assert_eq!(decoded, key.public_key);
        assert_eq!(
            entry.as_object().unwrap().len(),
            6,
            "no private member: {entry}"
        );
    }

    // A third party holding only the JWKS can verify our tokens.
    let token = ring.issue(&config(), &subject(), NOW).unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let jwk = set.find(&new.kid).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.set_issuer(&["https://fathom.test"]);
    validation.set_audience(&["fathom-api"]);
    let decoded = jsonwebtoken::decode::<Claims>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims.sub, "user-1");
}
