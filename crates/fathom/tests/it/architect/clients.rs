//! Client advice over HTTP: the patterns of real request sequences are found (an N+1 burst with
//! the `expand` that serves it, a large offset, `count=true` on every page, a whole collection
//! read page by page) and ordinary use is not; only administrators read the advice, whose
//! answer fits the OpenAPI document and names no caller and no value.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, cached, json_with_status, mint_user, send_as, spawn_app_with,
};
use crate::openapi::check::problems;

const SCHEMA: &str = r#"
[collections.people]
rules = { list = true, view = true }
fields.name = { type = "text", required = true }

[collections.tasks]
rules = { list = true, view = true }
fields.title = { type = "text", required = true }
fields.owner = { type = "relation", collection = "people" }
"#;

/// A server on [`SCHEMA`] without rate limits (the tests send bursts), its client-advice
/// thresholds set by `adjust`.
async fn app(adjust: impl FnOnce(&mut fathom::config::ClientAdviceConfig)) -> TestApp {
    app_on(SCHEMA, adjust).await
}

/// [`app`] on `schema`.
async fn app_on(
    schema: &str,
    adjust: impl FnOnce(&mut fathom::config::ClientAdviceConfig),
) -> TestApp {
    spawn_app_with(schema, |config| {
        config.rate_limits.enabled = false;
        adjust(&mut config.architect.clients);
    })
    .await
}

/// Creates `n` people and `n` tasks, each task owned by its person; returns the tasks.
async fn seed(app: &TestApp, n: usize) -> Vec<Value> {
    let people: Vec<Value> = (0..n)
        .map(|i| json!({"op": "create", "collection": "people", "body": {"name": format!("person {i}")}}))
        .collect();
    let created = json_with_status(
        app.post_json("/api/v1/batch", &json!({ "operations": people }))
            .await,
        200,
    )
    .await;
    let ids: Vec<String> = created["data"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["record"]["id"].as_str().expect("an id").to_owned())
        .collect();
    let tasks: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, owner)| json!({"op": "create", "collection": "tasks", "body": {"title": format!("task {i}"), "owner": owner}}))
        .collect();
    let created = json_with_status(
        app.post_json("/api/v1/batch", &json!({ "operations": tasks }))
            .await,
        200,
    )
    .await;
    created["data"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["record"].clone())
        .collect()
}

/// `GET path` with `token` (anonymous without), asserting a 200; the body.
async fn read(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    json_with_status(send_as(app, "GET", path, token, None).await, 200).await
}

/// The advice of `kind`, checked against the OpenAPI document.
async fn advice(app: &TestApp, kind: &str) -> Vec<Value> {
    let document = json_with_status(app.get("/api/v1/openapi.json").await, 200).await;
    let answer = json_with_status(
        app.get(&format!("/api/v1/admin/advice?kind={kind}")).await,
        200,
    )
    .await;
    let schema = &document["paths"]["/api/v1/admin/advice"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let found = problems(&document, schema, &answer);
    assert!(found.is_empty(), "{answer}: {found:?}");
    let findings = answer["data"].as_array().expect("a list").clone();
    assert!(
        findings.iter().all(|f| f["kind"] == kind),
        "only {kind}: {answer}"
    );
    findings
}

/// Follows `meta.page.next` from `first` to the end; returns the pages read.
async fn page_through(app: &TestApp, first: &str, token: Option<&str>) -> usize {
    let mut page = read(app, first, token).await;
    let mut pages = 1;
    let base = first.split('?').next().expect("a path");
    while let Some(next) = page["meta"]["page"]["next"].as_str() {
        let extra = first.split_once('?').map_or(String::new(), |(_, q)| {
            q.split('&')
                .filter(|p| !p.starts_with("count=") && !p.starts_with("offset="))
                .map(|p| format!("&{p}"))
                .collect()
        });
        page = read(app, &format!("{base}?cursor={next}{extra}"), token).await;
        pages += 1;
    }
    pages
}

#[tokio::test]
async fn an_n_plus_one_burst_is_found_with_the_expand_that_serves_it() {
    let app = app(|_| {}).await;
    let tasks = seed(&app, 12).await;
    let (user_id, user) = mint_user(&app.store, &app.auth, "reader@example.com", &["user"]).await;

    // A user lists tasks, then fetches each task's owner one by one.
    let page = read(&app, "/api/v1/tasks?limit=20", Some(&user)).await;
    for task in page["data"].as_array().expect("tasks") {
        let owner = task["owner"].as_str().expect("an owner");
        read(&app, &format!("/api/v1/people/{owner}"), Some(&user)).await;
    }
    // An anonymous client lists tasks, then fetches each task again by id: no relation leads
    // from tasks to tasks, so one filtered list is the advice.
    read(&app, "/api/v1/tasks", None).await;
    for task in &tasks {
        let id = task["id"].as_str().expect("an id");
        read(&app, &format!("/api/v1/tasks/{id}"), None).await;
    }

    let findings = advice(&app, "n_plus_one").await;
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let by_user = findings
        .iter()
        .find(|f| f["evidence"]["caller_kind"] == "user")
        .expect("the user's burst");
    assert_eq!(by_user["collection"], "tasks");
    assert_eq!(by_user["severity"], "warning");
    let evidence = &by_user["evidence"];
    assert_eq!(evidence["target_collection"], "people");
    assert_eq!(evidence["relation"], "owner");
    assert_eq!(evidence["suggestion"], "expand=owner");
    assert_eq!(evidence["gets"], 10, "reported when the burst reached 10");
    assert_eq!(evidence["occurrences"], 1);
    assert!(
        by_user["change"]["advice"]
            .as_str()
            .expect("advice")
            .contains("GET /api/v1/tasks?expand=owner"),
        "{by_user}"
    );
    let callers = evidence["callers"].as_array().expect("hashes");
    assert_eq!(callers.len(), 1);
    assert_eq!(callers[0].as_str().expect("a hash").len(), 8);
    let window = evidence["window"].as_array().expect("the window");
    assert!(
        window[0]
            .as_str()
            .expect("a read")
            .ends_with("GET /api/v1/tasks?limit=20")
    );
    assert!(
        window[1]
            .as_str()
            .expect("a read")
            .ends_with("GET /api/v1/people/{id}")
    );

    let anonymous = findings
        .iter()
        .find(|f| f["evidence"]["caller_kind"] == "anonymous")
        .expect("the anonymous burst");
    assert_eq!(anonymous["evidence"]["target_collection"], "tasks");
    assert_eq!(anonymous["evidence"]["relation"], Value::Null);
    assert_eq!(anonymous["evidence"]["suggestion"], "filter=id in [...]");
    assert!(
        anonymous["change"]["advice"]
            .as_str()
            .expect("advice")
            .contains("GET /api/v1/tasks?filter=id in"),
        "{anonymous}"
    );

    // No caller and no value is shown: not the user's id, not a record's id or title.
    let text = serde_json::to_string(&findings).expect("json");
    assert!(!text.contains(&user_id.to_string()), "{text}");
    for task in &tasks {
        assert!(!text.contains(task["id"].as_str().expect("id")), "{text}");
        assert!(
            !text.contains(task["owner"].as_str().expect("owner")),
            "{text}"
        );
    }
    assert!(!text.contains("127.0.0.1"), "{text}");
}

#[tokio::test]
async fn a_normal_page_load_and_a_slow_trickle_of_gets_are_not_flagged() {
    let app = app(|_| {}).await;
    seed(&app, 12).await;
    let (_, user) = mint_user(&app.store, &app.auth, "reader@example.com", &["user"]).await;

    // A page: the list, a couple of owners, the people list for a picker, a task opened.
    let page = read(&app, "/api/v1/tasks?limit=20&count=true", Some(&user)).await;
    let tasks = page["data"].as_array().expect("tasks");
    for task in &tasks[..2] {
        let owner = task["owner"].as_str().expect("an owner");
        read(&app, &format!("/api/v1/people/{owner}"), Some(&user)).await;
    }
    read(&app, "/api/v1/people?limit=50", Some(&user)).await;
    let id = tasks[0]["id"].as_str().expect("an id");
    read(
        &app,
        &format!("/api/v1/tasks/{id}?expand=owner"),
        Some(&user),
    )
    .await;

    // Many gets, but not within the window after the list.
    read(&app, "/api/v1/tasks?limit=20", None).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    for task in tasks {
        let owner = task["owner"].as_str().expect("an owner");
        read(&app, &format!("/api/v1/people/{owner}"), None).await;
    }

    let all = json_with_status(app.get("/api/v1/admin/advice").await, 200).await;
    assert_eq!(all["data"], json!([]), "{all}");
}

#[tokio::test]
async fn a_large_offset_is_flagged_where_a_cursor_would_serve() {
    let app = app(|_| {}).await;
    seed(&app, 3).await;
    read(&app, "/api/v1/tasks?offset=999&limit=10", None).await;
    assert!(advice(&app, "large_offset").await.is_empty(), "999 < 1000");
    read(&app, "/api/v1/tasks?offset=2000&limit=10", None).await;
    read(&app, "/api/v1/tasks?offset=1000&limit=10", None).await;

    let findings = advice(&app, "large_offset").await;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["collection"], "tasks");
    assert_eq!(finding["evidence"]["occurrences"], 2);
    assert_eq!(finding["evidence"]["offset"], 2000, "the deepest offset");
    assert_eq!(
        finding["evidence"]["example"],
        "GET /api/v1/tasks?offset=2000&limit=10"
    );
    assert!(
        finding["change"]["advice"]
            .as_str()
            .expect("advice")
            .contains("cursor=<meta.page.next>"),
        "{finding}"
    );
}

#[tokio::test]
async fn count_on_every_page_of_a_large_collection_is_flagged_and_once_is_not() {
    let app = app(|clients| clients.large_collection = 30).await;
    seed(&app, 60).await;
    let (_, user) = mint_user(&app.store, &app.auth, "reader@example.com", &["user"]).await;

    // The right way: the total on the first page only.
    let pages = page_through(&app, "/api/v1/tasks?limit=10&count=true", Some(&user)).await;
    assert_eq!(pages, 6);
    assert!(advice(&app, "count_every_page").await.is_empty());

    // The wasteful way: the count again on every page (by cursor, then by offset).
    let mut next = None;
    for _ in 0..3 {
        let path = match &next {
            None => "/api/v1/tasks?limit=10&count=true".to_owned(),
            Some(cursor) => format!("/api/v1/tasks?limit=10&count=true&cursor={cursor}"),
        };
        let page = read(&app, &path, None).await;
        assert_eq!(page["meta"]["page"]["total"], 60);
        next = page["meta"]["page"]["next"].as_str().map(str::to_owned);
    }
    for offset in [0, 10, 20, 30] {
        read(
            &app,
            &format!("/api/v1/tasks?limit=10&count=true&offset={offset}"),
            Some(&user),
        )
        .await;
    }

    let findings = advice(&app, "count_every_page").await;
    assert_eq!(findings.len(), 2, "one per caller kind: {findings:#?}");
    for finding in &findings {
        assert_eq!(finding["collection"], "tasks");
        assert_eq!(finding["severity"], "info");
        assert_eq!(finding["evidence"]["total"], 60);
        assert_eq!(finding["evidence"]["consecutive_pages"], 3);
        assert_eq!(
            finding["evidence"]["occurrences"], 1,
            "a run is reported once"
        );
    }
}

#[tokio::test]
async fn paging_through_a_whole_large_collection_is_flagged_and_a_filtered_paging_is_not() {
    let app = app(|clients| {
        clients.large_collection = 30;
        clients.scan_pages = 5;
    })
    .await;
    seed(&app, 60).await;

    // Narrowed by a filter: the client reads what it asked for.
    let pages = page_through(
        &app,
        "/api/v1/tasks?limit=10&filter=title ~ \"task%\"",
        None,
    )
    .await;
    assert_eq!(pages, 6);
    assert!(advice(&app, "unbounded_scan").await.is_empty());

    // Everything, page after page, by cursor...
    assert_eq!(page_through(&app, "/api/v1/tasks?limit=10", None).await, 6);
    // ...and by offset, as another caller.
    let (_, user) = mint_user(&app.store, &app.auth, "reader@example.com", &["user"]).await;
    for offset in (0..60).step_by(10) {
        read(
            &app,
            &format!("/api/v1/tasks?limit=10&offset={offset}"),
            Some(&user),
        )
        .await;
    }

    let findings = advice(&app, "unbounded_scan").await;
    assert_eq!(findings.len(), 2, "{findings:#?}");
    for finding in &findings {
        assert_eq!(finding["collection"], "tasks");
        assert_eq!(
            finding["evidence"]["pages"], 5,
            "reported on the fifth page"
        );
        assert_eq!(finding["evidence"]["records"], 50);
        assert_eq!(finding["evidence"]["occurrences"], 1);
    }
    let kinds: Vec<&str> = findings
        .iter()
        .map(|f| f["evidence"]["caller_kind"].as_str().expect("kind"))
        .collect();
    assert!(
        kinds.contains(&"anonymous") && kinds.contains(&"user"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn only_administrators_read_the_advice_and_a_bad_kind_is_refused() {
    let app = app(|_| {}).await;
    let (_, user) = mint_user(&app.store, &app.auth, "reader@example.com", &["user"]).await;
    assert_problem(
        send_as(&app, "GET", "/api/v1/admin/advice", None, None).await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        send_as(&app, "GET", "/api/v1/admin/advice", Some(&user), None).await,
        403,
        "forbidden",
    )
    .await;
    let body = assert_problem(
        app.get("/api/v1/admin/advice?kind=n_plus_two").await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "kind", "{body}");
    assert!(
        body["hint"].as_str().expect("hint").contains("n_plus_one"),
        "the hint lists the kinds: {body}"
    );
    assert_problem(
        app.get("/api/v1/admin/advice?kind=n_plus_one&kind=large_offset")
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get("/api/v1/admin/advice?limit=5").await,
        400,
        "invalid_query",
    )
    .await;
    // Every kind is accepted, the ones other parts of the architect report included.
    for kind in ["missing_index", "migration_risk", "unbounded_scan"] {
        let answer = json_with_status(
            app.get(&format!("/api/v1/admin/advice?kind={kind}")).await,
            200,
        )
        .await;
        assert!(answer["data"].is_array(), "{answer}");
    }
}

#[tokio::test]
async fn reads_answered_from_the_result_cache_count_too() {
    let app = app_on(&cached(SCHEMA), |_| {}).await;
    seed(&app, 12).await;
    // The same burst twice: the second time, the list and every get are cache hits.
    for _ in 0..2 {
        let page = read(&app, "/api/v1/tasks?limit=20", None).await;
        for task in page["data"].as_array().expect("tasks") {
            let owner = task["owner"].as_str().expect("an owner");
            read(&app, &format!("/api/v1/people/{owner}"), None).await;
        }
    }
    // The same deep page twice.
    for _ in 0..2 {
        read(&app, "/api/v1/tasks?offset=1500&limit=5", None).await;
    }
    let bursts = advice(&app, "n_plus_one").await;
    assert_eq!(bursts.len(), 1, "{bursts:#?}");
    assert_eq!(bursts[0]["evidence"]["occurrences"], 2, "{bursts:#?}");
    assert_eq!(bursts[0]["evidence"]["suggestion"], "expand=owner");
    let offsets = advice(&app, "large_offset").await;
    assert_eq!(offsets.len(), 1, "{offsets:#?}");
    assert_eq!(offsets[0]["evidence"]["occurrences"], 2, "{offsets:#?}");
    assert_eq!(
        offsets[0]["evidence"]["example"],
        "GET /api/v1/tasks?offset=1500&limit=5"
    );
}
