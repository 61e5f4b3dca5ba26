//! Authority comes from the account as it is now, not from the access token: a role removed, a
//! tenant changed or a verification withdrawn applies to tokens issued before the change, at
//! once on the node that made it (the session interval is a minute here, so only the
//! invalidation can explain it) and within `auth.session_cache_ms` on another node. A demoted
//! administrator cannot use its old token to mint a key, and a key whose creator is no longer
//! an administrator is suspended.

use std::time::{Duration, Instant};

use fathom::Application;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{PASSWORD, login, mailed_token, post_auth, register};
use crate::helpers::{
    TestApp, assert_problem, json_with_status, mint_member, mint_user, send_as, spawn_app_with,
    test_config_on,
};

/// `memos` are for editors, `ledgers` are per tenant, `drafts` are for verified accounts.
const SCHEMA: &str = r#"
[collections.memos]
rules = { list = '"editor" in auth.roles', view = '"editor" in auth.roles', create = '"editor" in auth.roles' }
fields.body = { type = "text", required = true }

[collections.ledgers]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null" }
fields.body = { type = "text", required = true }

[collections.drafts]
rules = { list = "auth.verified = true", view = "auth.verified = true", create = "auth.verified = true" }
fields.body = { type = "text", required = true }
"#;

/// Longer than any test here: a change seen at once cannot come from a cached verdict expiring.
const LONG_INTERVAL_MS: u64 = 60_000;

fn configure(config: &mut fathom::Config, interval_ms: u64) {
    config.auth.argon2_memory_kib = 19_456;
    config.auth.argon2_iterations = 2;
    config.auth.rate_limit_per_minute = 100_000;
    config.auth.session_cache_ms = interval_ms;
}

async fn spawn(interval_ms: u64) -> TestApp {
    spawn_app_with(SCHEMA, |c| configure(c, interval_ms)).await
}

/// An administrator's change to a user, through the API as the test administrator.
async fn admin_update(app: &TestApp, user: Uuid, change: Value) -> Value {
    let path = format!("/api/v1/admin/users/{user}");
    json_with_status(app.patch_json(&path, &change).await, 200).await["data"].clone()
}

async fn status_of(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    send_as(app, method, path, Some(token), body)
        .await
        .status()
        .as_u16()
}

/// The ids of the records of `collection` that `token` lists (asserting a 200).
async fn listed_ids(app: &TestApp, collection: &str, token: &str) -> Vec<String> {
    let path = format!("/api/v1/{collection}");
    let body = json_with_status(send_as(app, "GET", &path, Some(token), None).await, 200).await;
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list in {body}"))
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_removed_role_stops_granting_access_at_once_and_an_added_one_grants_it() {
    let app = spawn(LONG_INTERVAL_MS).await;
    let memo = app.create("memos", &json!({"body": "for editors"})).await;
    let memo_id = memo["id"].as_str().unwrap();
    let (editor, token) = mint_user(&app.store, &app.auth, "ed@example.com", &["editor"]).await;
    assert_eq!(listed_ids(&app, "memos", &token).await, [memo_id]);

    admin_update(&app, editor, json!({"roles": ["user"]})).await;
    assert_eq!(
        listed_ids(&app, "memos", &token).await,
        Vec::<String>::new(),
        "the token issued before the change no longer lists"
    );
    let created = json!({"body": "still an editor?"});
    assert_eq!(
        status_of(&app, "POST", "/api/v1/memos", &token, Some(created.clone())).await,
        403,
        "the token issued before the change no longer creates"
    );

    // The other direction needs no new token either.
    admin_update(&app, editor, json!({"roles": ["user", "editor"]})).await;
    assert_eq!(listed_ids(&app, "memos", &token).await, [memo_id]);
    assert_eq!(
        status_of(&app, "POST", "/api/v1/memos", &token, Some(created)).await,
        201
    );
    app.stop().await;
}

#[tokio::test]
async fn a_demoted_administrator_loses_admin_at_once_and_cannot_mint_a_key_or_re_promote_itself() {
    let app = spawn(LONG_INTERVAL_MS).await;
    let (boss, token) = mint_user(&app.store, &app.auth, "boss@example.com", &["admin"]).await;
    assert_eq!(
        status_of(&app, "GET", "/api/v1/admin/users", &token, None).await,
        200
    );
    // Administrators pass every collection rule.
    app.create("memos", &json!({"body": "for editors"})).await;
    assert_eq!(listed_ids(&app, "memos", &token).await.len(), 1);

    admin_update(&app, boss, json!({"roles": ["user"]})).await;
    let refused = send_as(&app, "GET", "/api/v1/admin/users", Some(&token), None).await;
    assert_problem(refused, 403, "forbidden").await;
    let mint = send_as(
        &app,
        "POST",
        "/api/v1/admin/api-keys",
        Some(&token),
        Some(json!({"name": "backdoor", "scopes": ["*:*"]})),
    )
    .await;
    assert_problem(mint, 403, "forbidden").await;
    let promote = send_as(
        &app,
        "PATCH",
        &format!("/api/v1/admin/users/{boss}"),
        Some(&token),
        Some(json!({"roles": ["admin"]})),
    )
    .await;
    assert_problem(promote, 403, "forbidden").await;
    assert_eq!(
        listed_ids(&app, "memos", &token).await,
        Vec::<String>::new(),
        "no longer above the collection rules"
    );

    let keys = json_with_status(app.get("/api/v1/admin/api-keys").await, 200).await;
    assert_eq!(keys["data"], json!([]), "no key was minted");
    let user = app.store.user_by_id(boss).await.unwrap().unwrap();
    assert_eq!(user.roles, ["user"], "still demoted");
    app.stop().await;
}

#[tokio::test]
async fn a_user_moved_to_another_tenant_reads_and_writes_only_the_new_tenant() {
    let app = spawn(LONG_INTERVAL_MS).await;
    let acme = app
        .create("ledgers", &json!({"body": "acme's", "tenant": "acme"}))
        .await;
    let globex = app
        .create("ledgers", &json!({"body": "globex's", "tenant": "globex"}))
        .await;
    let (member, token) = mint_member(
        &app.store,
        &app.auth,
        "m@example.com",
        &["user"],
        Some("acme"),
    )
    .await;
    assert_eq!(
        listed_ids(&app, "ledgers", &token).await,
        [acme["id"].as_str().unwrap()]
    );

    admin_update(&app, member, json!({"tenant": "globex"})).await;
    assert_eq!(
        listed_ids(&app, "ledgers", &token).await,
        [globex["id"].as_str().unwrap()],
        "the old token reads the new tenant only"
    );
    let old = format!("/api/v1/ledgers/{}", acme["id"].as_str().unwrap());
    let gone = send_as(&app, "GET", &old, Some(&token), None).await;
    assert_problem(gone, 404, "record_not_found").await;
    let created = send_as(
        &app,
        "POST",
        "/api/v1/ledgers",
        Some(&token),
        Some(json!({"body": "written after the move"})),
    )
    .await;
    let created = json_with_status(created, 201).await;
    assert_eq!(created["data"]["tenant"], "globex", "{created}");

    // Without a tenant the member reaches no tenant's records.
    admin_update(&app, member, json!({"tenant": null})).await;
    assert_eq!(
        listed_ids(&app, "ledgers", &token).await,
        Vec::<String>::new()
    );
    app.stop().await;
}

#[tokio::test]
async fn verification_changes_apply_to_existing_tokens_at_once() {
    let app = spawn(LONG_INTERVAL_MS).await;
    let draft = app
        .create("drafts", &json!({"body": "for verified accounts"}))
        .await;
    let draft_path = format!("/api/v1/drafts/{}", draft["id"].as_str().unwrap());

    // An administrator withdraws a verification.
    let (user, token) = mint_user(&app.store, &app.auth, "v@example.com", &["user"]).await;
    assert_eq!(status_of(&app, "GET", &draft_path, &token, None).await, 200);
    admin_update(&app, user, json!({"verified": false})).await;
    assert_eq!(status_of(&app, "GET", &draft_path, &token, None).await, 404);
    assert_eq!(
        listed_ids(&app, "drafts", &token).await,
        Vec::<String>::new()
    );

    // A user verifies their email: the token from before the verification counts as verified.
    let email = "newcomer@example.com";
    register(&app, email, PASSWORD).await;
    let session = login(&app, email, PASSWORD).await;
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(status_of(&app, "GET", &draft_path, access, None).await, 404);
    let mailed = mailed_token(&app, email, "Verify your email").await;
    let verified = post_auth(&app, "/verify", &json!({"token": mailed}), None).await;
    assert_eq!(verified.status(), 204);
    assert_eq!(status_of(&app, "GET", &draft_path, access, None).await, 200);
    app.stop().await;
}

/// Creates an API key as the administrator holding `token`; returns the listed key and the key.
async fn create_key_as(app: &TestApp, token: &str, scopes: Value) -> (Value, String) {
    let created = send_as(
        app,
        "POST",
        "/api/v1/admin/api-keys",
        Some(token),
        Some(json!({"name": "reports", "scopes": scopes})),
    )
    .await;
    let data = json_with_status(created, 201).await["data"].clone();
    let key = data["key"].as_str().expect("the key").to_owned();
    (data, key)
}

/// The status the admin listing gives the key with `id`.
async fn listed_status(app: &TestApp, id: &Value) -> Value {
    let keys = json_with_status(app.get("/api/v1/admin/api-keys").await, 200).await;
    keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| &k["id"] == id)
        .unwrap_or_else(|| panic!("{id} listed in {keys}"))["status"]
        .clone()
}

#[tokio::test]
async fn a_key_works_only_while_its_creator_is_an_enabled_administrator() {
    let app = spawn(LONG_INTERVAL_MS).await;
    app.create("memos", &json!({"body": "read by a service"}))
        .await;
    let (boss, token) = mint_user(&app.store, &app.auth, "boss@example.com", &["admin"]).await;
    let (created, key) = create_key_as(&app, &token, json!(["memos:list"])).await;
    assert_eq!(
        status_of(&app, "GET", "/api/v1/memos", &key, None).await,
        200
    );

    // Demoted: the key is refused with a clear reason and listed as suspended.
    admin_update(&app, boss, json!({"roles": ["user"]})).await;
    let refused = send_as(&app, "GET", "/api/v1/memos", Some(&key), None).await;
    let problem = assert_problem(refused, 401, "unauthorized").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("suspended"),
        "{problem}"
    );
    assert_eq!(created["status"], "active", "{created}");
    assert_eq!(created["created_by"], boss.to_string(), "{created}");
    assert_eq!(listed_status(&app, &created["id"]).await, "suspended");

    // Restored, the key works again; disabled, it is suspended again.
    admin_update(&app, boss, json!({"roles": ["admin"]})).await;
    assert_eq!(
        status_of(&app, "GET", "/api/v1/memos", &key, None).await,
        200
    );
    assert_eq!(listed_status(&app, &created["id"]).await, "active");
    admin_update(&app, boss, json!({"disabled": true})).await;
    assert_eq!(
        status_of(&app, "GET", "/api/v1/memos", &key, None).await,
        401
    );
    assert_eq!(listed_status(&app, &created["id"]).await, "suspended");

    // A revoked key says so, whatever its creator.
    let revoke = app
        .delete(&format!(
            "/api/v1/admin/api-keys/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(revoke.status(), 204);
    assert_eq!(listed_status(&app, &created["id"]).await, "revoked");

    // A key made by the operator (`fathom keys create`) has no creator to lose.
    let scopes = fathom_api::parse_scopes(&app.schema, &["memos:list".to_owned()]).unwrap();
    let (record, operator_key) = fathom_api::issue_api_key(&app.store, "cli", &scopes, None)
        .await
        .unwrap();
    assert_eq!(
        status_of(&app, "GET", "/api/v1/memos", &operator_key, None).await,
        200
    );
    let id = json!(record.id.to_string());
    assert_eq!(listed_status(&app, &id).await, "active");
    app.stop().await;
}

/// A second server on the first one's database (its file on SQLite, its scratch database on
/// PostgreSQL), with its own caches: another node of the same deployment.
struct Node {
    address: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Node {
    async fn start(first: &TestApp, interval_ms: u64) -> Self {
        let mut config = test_config_on(first.data_dir.path(), first.database.as_ref());
        configure(&mut config, interval_ms);
        let app = Application::build(&config, (*first.schema).clone(), "fathom.db")
            .await
            .expect("the second node builds");
        let address = app.local_addr().expect("bound address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            stop,
            server,
        }
    }

    /// How many records of `collection` `token` lists through this node.
    async fn count(&self, collection: &str, token: &str) -> usize {
        let response = crate::helpers::client_builder()
            .build()
            .unwrap()
            .get(format!("http://{}/api/v1/{collection}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        json_with_status(response, 200).await["data"]
            .as_array()
            .expect("a list")
            .len()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

#[tokio::test]
async fn a_role_removed_on_one_node_stops_working_on_another_within_the_interval() {
    const INTERVAL: Duration = Duration::from_millis(1_500);
    let first = spawn(INTERVAL.as_millis() as u64).await;
    let second = Node::start(&first, INTERVAL.as_millis() as u64).await;
    first.create("memos", &json!({"body": "for editors"})).await;
    let (editor, token) = mint_user(&first.store, &first.auth, "ed@example.com", &["editor"]).await;
    // The second node verifies the token and remembers the session with the editor role.
    assert_eq!(second.count("memos", &token).await, 1);
    let cached_at = Instant::now();

    admin_update(&first, editor, json!({"roles": ["user"]})).await;
    assert_eq!(
        listed_ids(&first, "memos", &token).await,
        Vec::<String>::new(),
        "the node that made the change applies it at once"
    );
    tokio::time::sleep(INTERVAL.saturating_sub(cached_at.elapsed()) + Duration::from_millis(50))
        .await;
    assert_eq!(
        second.count("memos", &token).await,
        0,
        "the other node applies it once its verdict is older than the interval"
    );
    second.stop().await;
    first.stop().await;
}
