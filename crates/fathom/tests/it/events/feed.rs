//! `GET /api/v1/events`: who may read it, what each reader sees, paging and retention.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, json_with_status, mint_user, send_as, spawn_app_with,
};

const SCHEMA: &str = r#"
[collections.posts]
fields.title  = { type = "text", required = true }
fields.secret = { type = "text", hidden = true }

[collections.notes]
tenant_scoped = true
fields.body = { type = "text", required = true }
"#;

async fn key(app: &TestApp, body: Value) -> String {
    json_with_status(app.post_json("/api/v1/admin/api-keys", &body).await, 201).await["data"]["key"]
        .as_str()
        .expect("key")
        .to_owned()
}

async fn read(app: &TestApp, token: &str, query: &str) -> Value {
    json_with_status(
        send_as(
            app,
            "GET",
            &format!("/api/v1/events{query}"),
            Some(token),
            None,
        )
        .await,
        200,
    )
    .await
}

fn sequences(page: &Value) -> Vec<i64> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["sequence"].as_i64().expect("sequence"))
        .collect()
}

async fn spawn() -> TestApp {
    spawn_app_with(SCHEMA, |_| {}).await
}

#[tokio::test]
async fn the_feed_pages_in_sequence_order_with_the_next_cursor() {
    let app = spawn().await;
    for n in 0..5 {
        app.create("posts", &json!({"title": format!("p{n}")}))
            .await;
    }
    let token = app.admin_token.clone();
    let first = read(&app, &token, "?limit=2").await;
    assert_eq!(sequences(&first), [1, 2]);
    assert_eq!(first["meta"]["next"], 2);
    assert_eq!(first["meta"]["latest"], 5);
    assert_eq!(first["meta"]["oldest"], 1);
    assert!(first["meta"]["requestId"].is_string());
    let second = read(&app, &token, "?after=2&limit=2").await;
    assert_eq!(sequences(&second), [3, 4]);
    let last = read(&app, &token, "?after=4").await;
    assert_eq!(sequences(&last), [5]);
    let empty = read(&app, &token, "?after=5").await;
    assert!(sequences(&empty).is_empty());
    assert_eq!(
        empty["meta"]["next"], 5,
        "next stays at after when nothing is new"
    );
}

#[tokio::test]
async fn only_administrators_and_events_read_keys_may_read_and_bad_queries_are_400() {
    let app = spawn().await;
    app.create("posts", &json!({"title": "p"})).await;
    assert_problem(
        send_as(&app, "GET", "/api/v1/events", None, None).await,
        401,
        "unauthorized",
    )
    .await;
    let (_, user) = mint_user(&app.store, &app.auth, "user@example.com", &["member"]).await;
    assert_problem(
        send_as(&app, "GET", "/api/v1/events", Some(&user), None).await,
        403,
        "forbidden",
    )
    .await;
    let everything = key(&app, json!({"name": "all", "scopes": ["*:*"]})).await;
    assert_problem(
        send_as(&app, "GET", "/api/v1/events", Some(&everything), None).await,
        403,
        "forbidden",
    )
    .await;
    let feed = key(&app, json!({"name": "feed", "scopes": ["events:read"]})).await;
    assert_eq!(sequences(&read(&app, &feed, "").await), [1]);
    // The feed scope grants no record operation.
    assert_problem(
        send_as(&app, "GET", "/api/v1/posts", Some(&feed), None).await,
        403,
        "forbidden",
    )
    .await;
    for bad in [
        "?after=-1",
        "?after=abc",
        "?limit=0",
        "?limit=1001",
        "?since=1",
        "?after=2",
    ] {
        assert_problem(
            app.get(&format!("/api/v1/events{bad}")).await,
            400,
            "invalid_query",
        )
        .await;
    }
}

#[tokio::test]
async fn a_tenant_key_sees_only_its_tenant_and_a_key_never_sees_hidden_fields() {
    let app = spawn().await;
    app.create("posts", &json!({"title": "shared", "secret": "hush"}))
        .await;
    app.create("notes", &json!({"body": "acme's", "tenant": "acme"}))
        .await;
    app.create("notes", &json!({"body": "globex's", "tenant": "globex"}))
        .await;
    let acme = key(
        &app,
        json!({"name": "acme feed", "scopes": ["events:read"], "tenant": "acme"}),
    )
    .await;
    let page = read(&app, &acme, "").await;
    assert_eq!(sequences(&page), [2]);
    assert_eq!(page["data"][0]["record"]["body"], "acme's");
    assert_eq!(page["meta"]["latest"], 3);

    let global = key(&app, json!({"name": "feed", "scopes": ["events:read"]})).await;
    let page = read(&app, &global, "").await;
    assert_eq!(sequences(&page), [1, 2, 3]);
    let post = &page["data"][0];
    assert_eq!(post["record"]["title"], "shared");
    assert!(post["record"].get("secret").is_none(), "{post}");
    assert_eq!(post["changed"], json!(["title"]));
    // An administrator sees what REST shows it: every field.
    let page = read(&app, &app.admin_token.clone(), "").await;
    assert_eq!(page["data"][0]["record"]["secret"], "hush");
}

#[tokio::test]
async fn a_position_past_retention_is_410_events_expired() {
    let app = spawn_app_with(SCHEMA, |config| config.events.retention_count = 3).await;
    for n in 0..8 {
        app.create("posts", &json!({"title": format!("p{n}")}))
            .await;
    }
    // The pruner runs in the background; wait for it to catch up.
    let token = app.admin_token.clone();
    let mut oldest = 0;
    for _ in 0..100 {
        oldest = read(&app, &token, "?after=7").await["meta"]["oldest"]
            .as_i64()
            .expect("oldest");
        if oldest == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(oldest, 6);
    let problem = assert_problem(
        app.get("/api/v1/events?after=4").await,
        410,
        "events_expired",
    )
    .await;
    assert!(
        problem["detail"].as_str().expect("detail").contains('6'),
        "{problem}"
    );
    // Right before the oldest kept event is still a position the feed can continue from.
    assert_eq!(sequences(&read(&app, &token, "?after=5").await), [6, 7, 8]);
}
