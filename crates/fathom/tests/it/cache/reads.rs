//! Cached reads are served from memory (the hit counter moves, the bytes are the same but for
//! the request id), and every write is visible to the next read on the same node: to lists,
//! counts and record reads of the collection, and to answers that expand it.

use serde_json::{Value, json};

use super::{hits_and_misses, settle};
use crate::helpers::{TestApp, json_with_status, spawn_app_with};

const SCHEMA: &str = r#"
[collections.notes]
cache = "30s"
rules = { list = true, view = true }
fields.title = { type = "text", required = true }
fields.tag   = { type = "relation", collection = "tags" }

[collections.tags]
rules = { list = true, view = true }
fields.name = { type = "text", required = true }
"#;

async fn spawn() -> TestApp {
    spawn_app_with(SCHEMA, |c| {
        c.metrics.listen = Some("127.0.0.1:0".into());
        c.rate_limits.enabled = false;
    })
    .await
}

async fn read(app: &TestApp, path: &str) -> (Value, String) {
    let response = app.anonymous.get(app.url(path)).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let mut body = json_with_status(response, 200).await;
    body["meta"]["requestId"] = Value::Null;
    (body, etag)
}

#[tokio::test]
async fn cached_reads_are_served_from_memory_and_a_write_is_visible_at_once() {
    let app = spawn().await;
    let tag = app.create("tags", &json!({"name": "red"})).await;
    let note = app
        .create("notes", &json!({"title": "first", "tag": tag["id"]}))
        .await;
    let list = "/api/v1/notes?count=true&expand=tag";
    let record = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    settle().await;

    let (first, etag) = read(&app, list).await;
    let (second, same_etag) = read(&app, list).await;
    assert_eq!(first, second, "the cached answer is the answer");
    assert_eq!(etag, same_etag);
    assert_eq!(first["meta"]["page"]["total"], 1);
    assert_eq!(first["data"][0]["expand"]["tag"]["name"], "red");
    let (got, _) = read(&app, &record).await;
    let (again, _) = read(&app, &record).await;
    assert_eq!(got, again);
    assert_eq!(hits_and_misses(&app, "notes").await, (2.0, 2.0));

    // A revalidation is answered from the cache too, with 304.
    let not_modified = app
        .anonymous
        .get(app.url(list))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert_eq!(hits_and_misses(&app, "notes").await, (3.0, 2.0));

    // An update, a create and a change to an expanded record each show at once.
    let path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    json_with_status(
        app.patch_json(&path, &json!({"title": "changed"})).await,
        200,
    )
    .await;
    let (listed, _) = read(&app, list).await;
    assert_eq!(listed["data"][0]["title"], "changed");
    let (got, etag) = read(&app, &record).await;
    assert_eq!(got["data"]["version"], 2);
    assert_eq!(etag, format!("\"{}.2\"", note["id"].as_str().unwrap()));
    app.create("notes", &json!({"title": "second"})).await;
    assert_eq!(read(&app, list).await.0["meta"]["page"]["total"], 2);
    let tag_path = format!("/api/v1/tags/{}", tag["id"].as_str().unwrap());
    json_with_status(
        app.patch_json(&tag_path, &json!({"name": "blue"})).await,
        200,
    )
    .await;
    let (listed, _) = read(&app, list).await;
    let names: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["expand"]["tag"]["name"])
        .collect();
    assert!(names.contains(&&json!("blue")), "{listed}");
    // A delete, too.
    let response = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(read(&app, list).await.0["meta"]["page"]["total"], 1);
    let gone = app.anonymous.get(app.url(&record)).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn collections_without_cache_are_never_cached() {
    let app = spawn().await;
    app.create("tags", &json!({"name": "red"})).await;
    read(&app, "/api/v1/tags").await;
    read(&app, "/api/v1/tags").await;
    assert_eq!(hits_and_misses(&app, "tags").await, (0.0, 0.0));
    app.stop().await;
}

/// A stampede: many callers missing one key at the same moment (a cold or just expired entry)
/// cause one database read, not one each; the others wait for it and are answered alike.
#[tokio::test]
async fn concurrent_misses_of_one_answer_read_the_database_once() {
    let app = spawn().await;
    let titles: Vec<_> = (0..200)
        .map(|n| json!({"title": format!("note {n}")}))
        .collect();
    for title in &titles {
        app.create("notes", title).await;
    }
    settle().await;
    let list = "/api/v1/notes?count=true&sort=-title&limit=50";
    let reads = (0..16).map(|_| read(&app, list));
    let answers = futures_util::future::join_all(reads).await;
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "one answer for all"
    );
    assert_eq!(answers[0].0["meta"]["page"]["total"], 200);
    assert_eq!(hits_and_misses(&app, "notes").await, (15.0, 1.0));
    app.stop().await;
}
