//! Attacks on the access token, against `GET /me`: every one is a 401 `unauthorized` with the
//! `WWW-Authenticate` challenge, never a 5xx and never the victim's data. Forged tokens carry
//! the claims of a real, live session, so a token that slipped through would answer 200.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fathom_auth::{KeyRing, SigningKey, TokenConfig, TokenSubject};
use hmac::{Hmac, KeyInit as _, Mac as _};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::Value;
use sha2::Sha256;

use super::support::{PASSWORD, assert_unauthorized, bearer, login, register, spawn_auth_app};
use crate::helpers::{TestApp, json_with_status};

fn unix_now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

fn decode_segment(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// The three dot-separated segments of a JWT.
fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three segments: {token}");
    [parts[0].into(), parts[1].into(), parts[2].into()]
}

/// The server's own signing keys, read from its database, as a ring that may sign at any time
/// (`created_at` 0), so tokens can be issued "in the past".
async fn server_ring(app: &TestApp) -> KeyRing {
    let stored = app.store.signing_keys().await.unwrap();
    assert!(!stored.is_empty(), "the server created its first key");
    let keys = stored
        .into_iter()
        .map(|k| SigningKey {
            public_key: <[u8; 32]>::try_from(k.public_key.as_slice()).unwrap(),
            kid: k.kid,
            private_pkcs8_der: k.private_key,
            created_at: 0,
            retired_at: None,
        })
        .collect();
    KeyRing::new(keys).unwrap()
}

/// Attacks whose `Authorization` header is not `Bearer <something>` at all.
const NOT_BEARER: [&str; 7] = [
    "`Bearer` alone",
    "`Bearer` and a space",
    "`Bearer` and spaces",
    "Basic credentials",
    "Basic x",
    "the token without a scheme",
    "non-UTF-8 header bytes",
];

/// The problem detail each attack must get: only an expired token is told so, and every other
/// bad token gets the same words, whatever was wrong with it.
fn expected_detail(label: &str) -> &'static str {
    match label {
        "no Authorization header" => "This endpoint needs an access token.",
        l if NOT_BEARER.contains(&l) => "The Authorization header must be `Bearer <access_token>`.",
        l if l.starts_with("expired") => "The access token has expired.",
        _ => "The access token is not valid.",
    }
}

fn hs256(secret: &[u8], signing_input: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    b64(mac.finalize().into_bytes().as_slice())
}

#[tokio::test]
async fn forged_malformed_and_stale_access_tokens_are_refused() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "victim@example.com";
    register(&app, email, PASSWORD).await;
    // A second real account: a tampered `sub` pointing at it must not work.
    register(&app, "other@example.com", PASSWORD).await;
    let other_id = app
        .store
        .user_by_email("other@example.com")
        .await
        .unwrap()
        .unwrap()
        .id
        .hyphenated()
        .to_string();
    let session = login(&app, email, PASSWORD).await;
    let access = session["access_token"].as_str().unwrap().to_owned();
    let [header_b64, payload_b64, signature_b64] = segments(&access);
    let header = decode_segment(&header_b64);
    let claims = decode_segment(&payload_b64);
    let kid = header["kid"].as_str().unwrap().to_owned();
    assert_eq!(header["alg"], "EdDSA", "{header}");

    let subject = TokenSubject {
        sub: session["user"]["id"].as_str().unwrap().to_owned(),
        roles: vec!["user".into()],
        tenant: None,
        verified: false,
        sid: session["session_id"].as_str().unwrap().to_owned(),
    };
    let config = TokenConfig::new("fathom", "fathom-api");
    let ring = server_ring(&app).await;
    let now = unix_now();

    // Control: the real token, and one issued here with the server's key, both work.
    let control = ring.issue(&config, &subject, now).unwrap();
    for (label, token) in [("login token", &access), ("test-issued token", &control)] {
        let response = bearer(&app, Method::GET, "/me", token)
            .send()
            .await
            .unwrap();
        let body = json_with_status(response, 200).await;
        assert_eq!(body["data"]["email"], email, "{label}: {body}");
    }

    let jwks: Value = app
        .get("/api/v1/auth/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let public_key = URL_SAFE_NO_PAD.decode(&x).unwrap();

    let mut attacks: Vec<(String, Option<HeaderValue>)> = Vec::new();
    let mut add = |label: &str, value: Option<String>| {
        attacks.push((
            label.to_owned(),
            value.map(|v| HeaderValue::from_str(&v).unwrap()),
        ));
    };
    let bearer_of = |token: &str| Some(format!("Bearer {token}"));

    add("no Authorization header", None);
    add("`Bearer` alone", Some("Bearer".into()));
    add("`Bearer` and a space", Some("Bearer ".into()));
    add("`Bearer` and spaces", Some("Bearer     ".into()));
    add(
        "Basic credentials",
        Some("Basic dXNlcjpwYXNzd29yZA==".into()),
    );
    add("Basic x", Some("Basic x".into()));
    add("the token without a scheme", Some(access.clone()));
    add("garbage", bearer_of("garbage"));
    add("three garbage segments", bearer_of("a.b.c"));
    add("dots only", bearer_of(".."));
    add("an oversized token", bearer_of(&"A".repeat(9_000)));
    add(
        "a JSON-serialised JWT",
        bearer_of(&format!(
            "{{\"protected\":\"{header_b64}\",\"payload\":\"{payload_b64}\"}}"
        )),
    );

    // `alg: none`, with and without the trailing dot, in a few spellings.
    for alg in ["none", "None", "NONE"] {
        let none = b64_json(&serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid}));
        add(
            &format!("alg {alg}, empty signature"),
            bearer_of(&format!("{none}.{payload_b64}.")),
        );
        add(
            &format!("alg {alg}, no signature segment"),
            bearer_of(&format!("{none}.{payload_b64}")),
        );
    }
    // Algorithm confusion: HS256 keyed with the public key (raw bytes, and its JWKS text).
    let hs_header = b64_json(&serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}));
    let input = format!("{hs_header}.{payload_b64}");
    add(
        "HS256 keyed with the raw public key",
        bearer_of(&format!("{input}.{}", hs256(&public_key, &input))),
    );
    add(
        "HS256 keyed with the JWKS `x` text",
        bearer_of(&format!("{input}.{}", hs256(x.as_bytes(), &input))),
    );
    // The real header with a different `alg` but the real signature.
    let mut relabelled = header.clone();
    relabelled["alg"] = "ES256".into();
    add(
        "alg relabelled ES256, real signature",
        bearer_of(&format!(
            "{}.{payload_b64}.{signature_b64}",
            b64_json(&relabelled)
        )),
    );
    // No `typ` (the server accepts exactly `typ: JWT`) or no `kid`, with the real signature.
    for key in ["typ", "kid"] {
        let mut trimmed = header.clone();
        trimmed.as_object_mut().unwrap().remove(key);
        add(
            &format!("header without {key}"),
            bearer_of(&format!(
                "{}.{payload_b64}.{signature_b64}",
                b64_json(&trimmed)
            )),
        );
    }

    // A key the server never had: its own kid, and the server's kid.
    let foreign = SigningKey::generate(now - 10);
    let foreign_ring = KeyRing::new(vec![foreign.clone()]).unwrap();
    add(
        "signed by an unknown key (unknown kid)",
        bearer_of(&foreign_ring.issue(&config, &subject, now).unwrap()),
    );
    let mut impostor = foreign;
    impostor.kid.clone_from(&kid);
    let impostor_ring = KeyRing::new(vec![impostor]).unwrap();
    add(
        "signed by an unknown key claiming the server's kid",
        bearer_of(&impostor_ring.issue(&config, &subject, now).unwrap()),
    );

    // The server's own key, but outside the token's validity or for someone else.
    add(
        "expired an hour ago",
        bearer_of(&ring.issue(&config, &subject, now - 3_600 - 900).unwrap()),
    );
    add(
        "not valid for another hour",
        bearer_of(&ring.issue(&config, &subject, now + 3_600).unwrap()),
    );
    add(
        "wrong audience",
        bearer_of(
            &ring
                .issue(&TokenConfig::new("fathom", "another-api"), &subject, now)
                .unwrap(),
        ),
    );
    add(
        "wrong issuer",
        bearer_of(
            &ring
                .issue(&TokenConfig::new("evil", "fathom-api"), &subject, now)
                .unwrap(),
        ),
    );
    let mut not_a_uuid = subject.clone();
    not_a_uuid.sub = "admin".into();
    add(
        "validly signed, `sub` not a user id",
        bearer_of(&ring.issue(&config, &not_a_uuid, now).unwrap()),
    );

    // Tampering with a real token.
    let mut swapped = claims.clone();
    swapped["sub"] = other_id.clone().into();
    add(
        "payload `sub` swapped to another user, signature kept",
        bearer_of(&format!(
            "{header_b64}.{}.{signature_b64}",
            b64_json(&swapped)
        )),
    );
    let mut elevated = claims.clone();
    elevated["roles"] = serde_json::json!(["admin"]);
    add(
        "payload roles elevated, signature kept",
        bearer_of(&format!(
            "{header_b64}.{}.{signature_b64}",
            b64_json(&elevated)
        )),
    );
    let mut extended = claims.clone();
    extended["exp"] = (now + 86_400 * 365).into();
    add(
        "payload exp extended, signature kept",
        bearer_of(&format!(
            "{header_b64}.{}.{signature_b64}",
            b64_json(&extended)
        )),
    );
    for cut in [1, 2, 10] {
        add(
            &format!("signature truncated by {cut}"),
            bearer_of(&access[..access.len() - cut]),
        );
    }
    add(
        "signature removed",
        bearer_of(&format!("{header_b64}.{payload_b64}.")),
    );
    let mut flipped = signature_b64.clone().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    add(
        "one signature character changed",
        bearer_of(&format!(
            "{header_b64}.{payload_b64}.{}",
            String::from_utf8(flipped).unwrap()
        )),
    );
    add(
        "a fourth segment appended",
        bearer_of(&format!("{access}.{signature_b64}")),
    );

    // A header that is not even text.
    attacks.push((
        "non-UTF-8 header bytes".into(),
        Some(HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").unwrap()),
    ));

    let mut failures = Vec::new();
    for (label, value) in attacks {
        let mut request = app.client.get(app.url("/api/v1/auth/me"));
        if let Some(value) = value {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        if response.status() != 401 {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            failures.push(format!("{label}: {status} {body}"));
            continue;
        }
        let problem = assert_unauthorized(response, &label).await;
        assert_eq!(problem["detail"], expected_detail(&label), "{label}");
    }
    assert!(
        failures.is_empty(),
        "attacks not answered 401:\n{}",
        failures.join("\n")
    );

    // After all of that, the real token still works (nothing was poisoned).
    let response = bearer(&app, Method::GET, "/me", &access)
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await;
}

#[tokio::test]
async fn a_correctly_signed_token_claiming_a_longer_life_than_configured_is_refused() {
    let app = spawn_auth_app(|_| {}).await;
    let email = "longlived@example.com";
    register(&app, email, PASSWORD).await;
    let session = login(&app, email, PASSWORD).await;
    let subject = TokenSubject {
        sub: session["user"]["id"].as_str().unwrap().to_owned(),
        roles: vec!["user".into()],
        tenant: None,
        verified: false,
        sid: session["session_id"].as_str().unwrap().to_owned(),
    };
    let config = app.auth.settings.tokens.clone();
    let ring = server_ring(&app).await;
    let now = unix_now();
    let with_ttl = |secs: u64| {
        let mut long_lived = config.clone();
        long_lived.access_ttl_secs = secs;
        ring.issue(&long_lived, &subject, now).unwrap()
    };
    // Control: the configured lifetime plus the clock-skew leeway is the most a token may claim.
    let limit = config.access_ttl_secs + config.leeway_secs;
    let response = bearer(&app, Method::GET, "/me", &with_ttl(limit))
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await;
    for (label, secs) in [
        ("a minute beyond the lifetime", limit + 60),
        ("ten years away", 10 * 365 * 86_400),
    ] {
        let response = bearer(&app, Method::GET, "/me", &with_ttl(secs))
            .send()
            .await
            .unwrap();
        let problem = assert_unauthorized(response, label).await;
        assert_eq!(
            problem["detail"], "The access token is not valid.",
            "{label}: {problem}"
        );
    }
}
