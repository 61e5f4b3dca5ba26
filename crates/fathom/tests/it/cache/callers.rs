//! Callers never share an answer: a user's private records never reach another user, hidden
//! fields shown to an administrator never reach a user, and a record one caller may view is
//! still 404 to one who may not, however the cache was filled.

use serde_json::{Value, json};

use super::{hits_and_misses, settle};
use crate::helpers::{TestApp, json_with_status, mint_user, send_as, spawn_app_with};

const SCHEMA: &str = r#"
[collections.diary]
cache = "30s"
rules = { list = "owner = auth.id", view = "owner = auth.id", create = "owner = auth.id" }
fields.owner  = { type = "uuid", required = true }
fields.text   = { type = "text", required = true }
fields.secret = { type = "text", hidden = true }
"#;

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let response = send_as(app, "GET", path, token, None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn texts(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn different_callers_never_share_cached_answers() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.metrics.listen = Some("127.0.0.1:0".into());
        c.rate_limits.enabled = false;
    })
    .await;
    let (alice_id, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (bob_id, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let mine = json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/diary",
            Some(&alice),
            Some(json!({"owner": alice_id, "text": "alice's", "secret": "s1"})),
        )
        .await,
        201,
    )
    .await;
    json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/diary",
            Some(&bob),
            Some(json!({"owner": bob_id, "text": "bob's"})),
        )
        .await,
        201,
    )
    .await;
    let list = "/api/v1/diary?count=true";
    let record = format!("/api/v1/diary/{}", mine["data"]["id"].as_str().unwrap());
    settle().await;

    // The administrator fills the cache first, with every record and the hidden field.
    for _ in 0..2 {
        let (status, page) = get(&app, list, Some(&app.admin_token)).await;
        assert_eq!(status, 200);
        assert_eq!(page["meta"]["page"]["total"], 2);
        assert!(page["data"][0].get("secret").is_some(), "{page}");
        assert_eq!(get(&app, &record, Some(&app.admin_token)).await.0, 200);
    }
    // Then each user, twice (the second time from the cache): only their own, never hidden.
    for _ in 0..2 {
        for (token, own) in [(&alice, "alice's"), (&bob, "bob's")] {
            let (status, page) = get(&app, list, Some(token)).await;
            assert_eq!(status, 200);
            assert_eq!(texts(&page), [own], "{page}");
            assert_eq!(page["meta"]["page"]["total"], 1);
            assert!(page["data"][0].get("secret").is_none(), "{page}");
        }
        let (status, body) = get(&app, &record, Some(&alice)).await;
        assert_eq!(status, 200);
        assert!(body["data"].get("secret").is_none());
        assert_eq!(get(&app, &record, Some(&bob)).await.0, 404);
        let (status, page) = get(&app, list, None).await;
        assert_eq!(status, 200);
        assert_eq!(page["meta"]["page"]["total"], 0);
        assert_eq!(get(&app, &record, None).await.0, 404);
    }
    // Every caller's second round was a hit: two admin reads, and per round the users' two
    // lists and alice's record and the anonymous list (errors are never stored).
    let (hits, _) = hits_and_misses(&app, "diary").await;
    assert_eq!(hits, 2.0 + 4.0, "hits");
    app.stop().await;
}
