//! TOTP secrets at rest: sealed with the server key, or with the field-encryption key ring when
//! the server has one; never in clear (nor the recovery codes), read from the database itself.

use super::support::{account, enable};
use crate::auth::support::spawn_auth_app;
use crate::helpers::TestApp;

/// The stored `_fathom_totp.secret` values, read over a connection of the test's own.
async fn stored_secrets(app: &TestApp) -> Vec<String> {
    const SQL: &str = "SELECT \"secret\" FROM \"_fathom_totp\" WHERE \"secret\" IS NOT NULL";
    if let Some(database) = &app.database {
        let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
            .await
            .expect("a second connection to the test database");
        tokio::spawn(connection);
        let rows = client.query(SQL, &[]).await.expect("read");
        return rows.iter().map(|r| r.get(0)).collect();
    }
    let path = app.data_dir.path().join("fathom.db");
    tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open(path).expect("a second connection");
        let mut statement = conn.prepare(SQL).unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Every byte of the SQLite database (file and write-ahead log); empty on PostgreSQL.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    if app.database.is_some() {
        return Vec::new();
    }
    ["fathom.db", "fathom.db-wal"]
        .iter()
        .filter_map(|name| std::fs::read(app.data_dir.path().join(name)).ok())
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

async fn assert_sealed(app: &TestApp, email: &str, prefix: &str) {
    let token = account(app, email).await;
    let (totp, recovery) = enable(app, &token).await;
    let secret = totp.secret().to_base32();
    let stored = stored_secrets(app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].starts_with(prefix), "{}", stored[0]);
    assert!(
        !stored[0].contains(&secret),
        "the secret is stored in clear"
    );
    let bytes = database_bytes(app);
    assert!(
        !contains(&bytes, &secret),
        "the database file holds the secret in clear"
    );
    for code in &recovery {
        assert!(
            !contains(&bytes, code),
            "the database file holds a recovery code"
        );
    }
}

#[tokio::test]
async fn the_secret_is_sealed_with_the_server_key_without_a_key_ring() {
    let app = spawn_auth_app(|_| {}).await;
    assert_sealed(&app, "sealed@example.com", "ts1:").await;
}

#[tokio::test]
async fn the_secret_is_sealed_with_the_key_ring_when_there_is_one() {
    let dir = tempfile::tempdir().expect("key dir");
    let path = dir.path().join("fathom.keys");
    std::fs::write(&path, fathom_store::KeyRing::generate_file("k1").unwrap()).unwrap();
    let app = spawn_auth_app(|c| c.encryption.key_file = Some(path)).await;
    assert_sealed(&app, "ring@example.com", "fe1:k1:").await;
}
