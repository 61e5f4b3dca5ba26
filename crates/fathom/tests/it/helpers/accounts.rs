//! Test accounts minted straight through the store and the key ring (no login, so no rate-limit
//! budget is spent on set-up), and a key ring that may sign tokens dated in the past.

use super::TEST_ADMIN_PASSWORD;

/// Creates a user with `roles` and returns its id and an access token, minted through the key
/// ring rather than by logging in, so that no test's rate-limit budget is spent on set-up.
pub async fn mint_user(
    store: &fathom_store::Store,
    auth: &fathom_api::AuthState,
    email: &str,
    roles: &[&str],
) -> (uuid::Uuid, String) {
    mint_member(store, auth, email, roles, None).await
}

/// Like [`mint_user`], for a member of `tenant`.
pub async fn mint_member(
    store: &fathom_store::Store,
    auth: &fathom_api::AuthState,
    email: &str,
    roles: &[&str],
    tenant: Option<&str>,
) -> (uuid::Uuid, String) {
    let (id, subject) = member_subject(store, auth, email, roles, tenant).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let ring = auth.keys.ring(store, false).await;
    let token = ring
        .issue(&auth.settings.tokens, &subject, now)
        .expect("token");
    (id, token)
}

/// Like [`mint_member`], with the token issued at `issued_at` (unix seconds, possibly before
/// the server's signing key existed), so that a test can hold a token that expires soon.
pub async fn mint_member_at(
    store: &fathom_store::Store,
    auth: &fathom_api::AuthState,
    email: &str,
    roles: &[&str],
    tenant: Option<&str>,
    issued_at: i64,
) -> (uuid::Uuid, String) {
    let (id, subject) = member_subject(store, auth, email, roles, tenant).await;
    let token = server_ring(store)
        .await
        .issue(&auth.settings.tokens, &subject, issued_at)
        .expect("token");
    (id, token)
}

/// Creates a user with a live session; returns its id and the subject of its access tokens.
async fn member_subject(
    store: &fathom_store::Store,
    auth: &fathom_api::AuthState,
    email: &str,
    roles: &[&str],
    tenant: Option<&str>,
) -> (uuid::Uuid, fathom_auth::TokenSubject) {
    let hash = auth.hasher.hash(TEST_ADMIN_PASSWORD).await.expect("hash");
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let user = fathom_store::NewUser {
        email: email.into(),
        password_hash: hash,
        roles,
        tenant: tenant.map(str::to_owned),
        verified: true,
    };
    let user = store.create_user(user).await.expect("user");
    let refresh = fathom_auth::hash_token(&fathom_auth::generate_token());
    let session = store
        .create_session(
            user.id,
            refresh,
            "2999-01-01T00:00:00.000Z".into(),
            None,
            None,
        )
        .await
        .expect("session");
    let subject = fathom_auth::TokenSubject {
        sub: user.id.to_string(),
        roles: user.roles.clone(),
        tenant: user.tenant.clone(),
        verified: true,
        sid: session.id.to_string(),
    };
    (user.id, subject)
}

/// The server's own signing keys as a ring that may sign "in the past" (`created_at` 0).
pub async fn server_ring(store: &fathom_store::Store) -> fathom_auth::KeyRing {
    let keys = store
        .signing_keys()
        .await
        .expect("signing keys")
        .into_iter()
        .map(|k| fathom_auth::SigningKey {
            public_key: <[u8; 32]>::try_from(k.public_key.as_slice()).expect("a public key"),
            kid: k.kid,
            private_pkcs8_der: k.private_key,
            created_at: 0,
            retired_at: None,
        })
        .collect();
    fathom_auth::KeyRing::new(keys).expect("a key ring")
}
