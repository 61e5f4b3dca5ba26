//! ETags and conditional requests on single records and lists (RFC 9110 §13): a strong ETag on
//! every record response, `If-Match` on PATCH and DELETE (412 with the current ETag, 428 where
//! the collection requires it), `If-None-Match` on reads (304), and every malformed or refused
//! precondition answered 400 `invalid_precondition` with the reason in `errors[].code`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_with_status, mint_user, spawn_app};

pub const SCHEMA: &str = r#"
[collections.notes]
fields.body = { type = "text", required = true }

[collections.drafts]
soft_delete = true
fields.body = { type = "text", required = true }

[collections.ledgers]
require_if_match = true
fields.balance = { type = "integer", required = true }

[collections.diaries]
rules = { list = "owner = auth.id", view = "owner = auth.id", update = "owner = auth.id", delete = "owner = auth.id", create = "owner = auth.id" }
fields.owner = { type = "uuid", required = true }
fields.body  = { type = "text", required = true }
"#;

pub fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .expect("ASCII")
        .to_owned()
}

/// Creates a record and returns its id and ETag.
pub async fn create(app: &TestApp, collection: &str, body: Value) -> (String, String) {
    let response = app.post_json(&format!("/api/v1/{collection}"), &body).await;
    let etag = etag_of(&response);
    let created = json_with_status(response, 201).await;
    (created["data"]["id"].as_str().expect("id").to_owned(), etag)
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request sent")
}

async fn patch_if(app: &TestApp, path: &str, etag: &str, body: Value) -> reqwest::Response {
    send(
        app,
        reqwest::Method::PATCH,
        path,
        &[("if-match", etag)],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn records_carry_a_strong_etag_that_changes_with_every_write() {
    let app = spawn_app(SCHEMA).await;
    let (id, created) = create(&app, "notes", json!({"body": "one"})).await;
    assert_eq!(created, format!("\"{id}.1\""), "id and version, strong");
    let path = format!("/api/v1/notes/{id}");

    let read = app.get(&path).await;
    assert_eq!(etag_of(&read), created, "a read shows the same state");

    let patched = patch_if(&app, &path, &created, json!({"body": "two"})).await;
    let after = etag_of(&patched);
    let body = json_with_status(patched, 200).await;
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(after, format!("\"{id}.2\""));
    assert_eq!(etag_of(&app.get(&path).await), after);
    app.stop().await;
}

#[tokio::test]
async fn a_stale_if_match_is_412_with_the_current_etag_and_writes_nothing() {
    let app = spawn_app(SCHEMA).await;
    let (id, first) = create(&app, "notes", json!({"body": "one"})).await;
    let path = format!("/api/v1/notes/{id}");
    let second = etag_of(&patch_if(&app, &path, &first, json!({"body": "two"})).await);

    let stale = patch_if(&app, &path, &first, json!({"body": "lost update"})).await;
    assert_eq!(etag_of(&stale), second, "the 412 names the current ETag");
    let problem = assert_problem(stale, 412, "precondition_failed").await;
    assert!(
        problem["detail"].as_str().unwrap().contains(&second),
        "{problem}"
    );

    let stale_delete = send(
        &app,
        reqwest::Method::DELETE,
        &path,
        &[("if-match", &first)],
        None,
    )
    .await;
    assert_eq!(etag_of(&stale_delete), second);
    assert_problem(stale_delete, 412, "precondition_failed").await;

    let stored = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(stored["data"]["body"], "two", "nothing was written");
    assert_eq!(stored["data"]["version"], 2);

    // An ETag of another record, or of no form Fathom issues, names no version of this one.
    let (_, other) = create(&app, "notes", json!({"body": "other"})).await;
    for foreign in [other.as_str(), "\"something-else\""] {
        let response = patch_if(&app, &path, foreign, json!({"body": "x"})).await;
        assert_eq!(etag_of(&response), second);
        assert_problem(response, 412, "precondition_failed").await;
    }

    // The current ETag deletes; the record is then gone (404, not 412).
    let deleted = send(
        &app,
        reqwest::Method::DELETE,
        &path,
        &[("if-match", &second)],
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let gone = patch_if(&app, &path, &second, json!({"body": "x"})).await;
    assert_problem(gone, 404, "record_not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn soft_deletes_bump_the_version_and_a_stale_if_match_keeps_the_record() {
    let app = spawn_app(SCHEMA).await;
    let (id, first) = create(&app, "drafts", json!({"body": "one"})).await;
    let path = format!("/api/v1/drafts/{id}");
    let second = etag_of(&patch_if(&app, &path, &first, json!({"body": "two"})).await);
    let stale = send(
        &app,
        reqwest::Method::DELETE,
        &path,
        &[("if-match", &first)],
        None,
    )
    .await;
    assert_problem(stale, 412, "precondition_failed").await;
    json_with_status(app.get(&path).await, 200).await;
    let deleted = send(
        &app,
        reqwest::Method::DELETE,
        &path,
        &[("if-match", &second)],
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_problem(app.get(&path).await, 404, "record_not_found").await;
    app.stop().await;
}

#[tokio::test]
async fn a_record_the_caller_may_not_change_is_404_whatever_its_if_match() {
    let app = spawn_app(SCHEMA).await;
    let (alice_id, _) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (_, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let (id, etag) = create(
        &app,
        "diaries",
        json!({"owner": alice_id.to_string(), "body": "private"}),
    )
    .await;
    let path = format!("/api/v1/diaries/{id}");
    for tag in [etag.clone(), format!("\"{id}.9\"")] {
        let response = app
            .anonymous
            .patch(app.url(&path))
            .bearer_auth(&bob)
            .header("if-match", &tag)
            .json(&json!({"body": "mine now"}))
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("etag").is_none(), "no version leaks");
        assert_problem(response, 404, "record_not_found").await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_collection_that_requires_if_match_answers_428_without_it() {
    let app = spawn_app(SCHEMA).await;
    let (id, etag) = create(&app, "ledgers", json!({"balance": 10})).await;
    let path = format!("/api/v1/ledgers/{id}");
    let problem = assert_problem(
        app.patch_json(&path, &json!({"balance": 11})).await,
        428,
        "precondition_required",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "If-Match", "{problem}");
    assert_problem(app.delete(&path).await, 428, "precondition_required").await;

    let ok = patch_if(&app, &path, &etag, json!({"balance": 11})).await;
    assert_eq!(ok.status(), 200);
    // Creates need no precondition.
    create(&app, "ledgers", json!({"balance": 1})).await;
    app.stop().await;
}

#[tokio::test]
async fn malformed_and_refused_preconditions_are_400_with_a_reason() {
    let app = spawn_app(SCHEMA).await;
    let (id, etag) = create(&app, "notes", json!({"body": "one"})).await;
    let path = format!("/api/v1/notes/{id}");
    let weak = format!("W/{etag}");
    let list = format!("{etag}, \"{id}.2\"");
    let cases: Vec<(&str, &str)> = vec![
        ("*", "wildcard"),
        (&list, "list"),
        (&weak, "weak"),
        ("not-quoted", "malformed"),
        ("\"has space\"", "malformed"),
        ("\"unterminated", "malformed"),
    ];
    for (value, reason) in &cases {
        for method in [reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let response = send(
                &app,
                method.clone(),
                &path,
                &[("if-match", value)],
                Some(json!({"body": "x"})),
            )
            .await;
            let problem = assert_problem(response, 400, "invalid_precondition").await;
            assert_eq!(problem["errors"][0]["field"], "If-Match", "{value}");
            assert_eq!(problem["errors"][0]["code"], *reason, "{value}: {problem}");
        }
    }
    // Two If-Match header lines are a list too.
    let two = app
        .client
        .patch(app.url(&path))
        .header("if-match", &etag)
        .header("if-match", &etag)
        .json(&json!({"body": "x"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(two, 400, "invalid_precondition").await;
    assert_eq!(problem["errors"][0]["code"], "list");

    for (value, reason) in [("*", "wildcard"), ("nope", "malformed"), ("", "malformed")] {
        let response = send(
            &app,
            reqwest::Method::GET,
            &path,
            &[("if-none-match", value)],
            None,
        )
        .await;
        let problem = assert_problem(response, 400, "invalid_precondition").await;
        assert_eq!(problem["errors"][0]["code"], reason, "{value}");
        let listed = send(
            &app,
            reqwest::Method::GET,
            "/api/v1/notes",
            &[("if-none-match", value)],
            None,
        )
        .await;
        assert_problem(listed, 400, "invalid_precondition").await;
    }
    let stored = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(stored["data"]["version"], 1, "no refused request wrote");
    app.stop().await;
}

#[tokio::test]
async fn if_none_match_on_a_record_answers_304_until_it_changes() {
    let app = spawn_app(SCHEMA).await;
    let (id, etag) = create(&app, "notes", json!({"body": "one"})).await;
    let path = format!("/api/v1/notes/{id}");
    let get_if = |tag: String| {
        let path = path.clone();
        let app = &app;
        async move {
            send(
                app,
                reqwest::Method::GET,
                &path,
                &[("if-none-match", &tag)],
                None,
            )
            .await
        }
    };
    let unchanged = get_if(etag.clone()).await;
    assert_eq!(unchanged.status(), 304);
    assert_eq!(etag_of(&unchanged), etag);
    assert!(unchanged.bytes().await.unwrap().is_empty(), "no body");
    // Weak comparison, and lists: a cache may hold several.
    assert_eq!(get_if(format!("W/{etag}")).await.status(), 304);
    assert_eq!(
        get_if(format!("\"old\", {etag}")).await.status(),
        304,
        "one of a list"
    );

    let next = etag_of(&patch_if(&app, &path, &etag, json!({"body": "two"})).await);
    let changed = get_if(etag.clone()).await;
    assert_eq!(etag_of(&changed), next);
    let body = json_with_status(changed, 200).await;
    assert_eq!(body["data"]["body"], "two");
    assert_eq!(get_if(next).await.status(), 304);
    app.stop().await;
}

/// Lists a page with `If-None-Match: tag`, returning the status and the page's ETag.
async fn list_if(app: &TestApp, query: &str, tag: &str) -> (u16, String) {
    let response = send(
        app,
        reqwest::Method::GET,
        &format!("/api/v1/notes?{query}"),
        &[("if-none-match", tag)],
        None,
    )
    .await;
    (response.status().as_u16(), etag_of(&response))
}

#[tokio::test]
async fn a_list_answers_304_until_something_it_shows_changes() {
    let app = spawn_app(SCHEMA).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(create(&app, "notes", json!({"body": format!("note {n}")})).await);
    }
    // The first two notes (and whether more follow).
    let query = "limit=2";
    let page = app.get(&format!("/api/v1/notes?{query}")).await;
    let tag = etag_of(&page);
    assert!(tag.starts_with("W/\""), "a list's ETag is weak: {tag}");
    assert_eq!(list_if(&app, query, &tag).await, (304, tag.clone()));

    // A change to a record the page does not show leaves it unchanged.
    let (third, third_tag) = &ids[2];
    patch_if(
        &app,
        &format!("/api/v1/notes/{third}"),
        third_tag,
        json!({"body": "elsewhere"}),
    )
    .await;
    assert_eq!(list_if(&app, query, &tag).await.0, 304);

    // A change to a shown record changes it.
    let (first, first_tag) = &ids[0];
    patch_if(
        &app,
        &format!("/api/v1/notes/{first}"),
        first_tag,
        json!({"body": "changed"}),
    )
    .await;
    let (status, changed) = list_if(&app, query, &tag).await;
    assert_eq!(status, 200);
    assert_ne!(changed, tag);
    assert_eq!(list_if(&app, query, &changed).await.0, 304);

    // So does the deletion of a shown record (the next one takes its place).
    let (second, _) = &ids[1];
    assert_eq!(
        app.delete(&format!("/api/v1/notes/{second}"))
            .await
            .status(),
        204
    );
    let (status, after_delete) = list_if(&app, query, &changed).await;
    assert_eq!(status, 200);

    // With a count, a record created beyond the page changes the total, and so the ETag.
    let counted = "limit=2&count=true";
    let counted_tag = etag_of(&app.get(&format!("/api/v1/notes?{counted}")).await);
    assert_eq!(list_if(&app, counted, &counted_tag).await.0, 304);
    create(&app, "notes", json!({"body": "late"})).await;
    assert_eq!(list_if(&app, counted, &counted_tag).await.0, 200);
    // Without a count, the page still shows the same two notes.
    assert_eq!(list_if(&app, query, &after_delete).await.0, 304);
    app.stop().await;
}
