//! The OpenAPI document and the docs page: the document is well formed, it and the router agree
//! in both directions, real records validate against their schemas, the docs page is
//! self-contained, and `fathom openapi` prints what the server serves.

mod check;

use std::collections::{BTreeMap, BTreeSet};

use fathom_core::ErrorCode;
use reqwest::Method;
use serde_json::{Value, json};

use self::check::{problems, resolve};

use crate::helpers::{
    TEST_SCHEMA, TestApp, assert_problem, json_with_status, run_cli, spawn_app, spawn_demo,
};

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

async fn fetch_document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "the document is JSON"
    );
    json_with_status(response, 200).await
}

/// Every `$ref` anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                out.push(reference.clone());
            }
            object.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Every operation: `(path, method, operation)`.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths is an object") {
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                out.push((path.clone(), (*method).to_owned(), operation.clone()));
            }
        }
    }
    out
}

/// The `{name}` segments of a path template.
fn template_parameters(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

fn assert_well_formed(document: &Value, schema: &fathom_schema::Schema) {
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "Fathom API");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(document["servers"], json!([{ "url": "/" }]));

    let mut all_refs = Vec::new();
    refs(document, &mut all_refs);
    assert!(all_refs.len() > 20, "the document uses components");
    for reference in &all_refs {
        assert!(
            reference.starts_with("#/components/"),
            "only local component refs: {reference}"
        );
        resolve(document, &json!({ "$ref": reference }));
    }

    let mut operation_ids = BTreeSet::new();
    for (path, method, operation) in operations(document) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
        assert!(
            operation_ids.insert(id.to_owned()),
            "duplicate operationId {id}"
        );

        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| resolve(document, p))
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{id}: path parameters are required");
                p["name"].as_str().expect("parameter name").to_owned()
            })
            .collect();
        assert_eq!(
            declared,
            template_parameters(&path),
            "{id}: the path parameters of {path}"
        );

        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{id} has a 2xx response"
        );
        let problems: Vec<&String> = responses
            .iter()
            .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
            .filter(|(_, response)| {
                let response = resolve(document, response);
                response["content"]["application/problem+json"]["schema"]["$ref"]
                    == "#/components/schemas/Problem"
            })
            .map(|(status, _)| status)
            .collect();
        assert!(!problems.is_empty(), "{id} has a problem response");
    }

    for (name, collection) in &schema.collections {
        let list = format!("/api/v1/{name}");
        let one = format!("/api/v1/{name}/{{id}}");
        let ops: BTreeSet<(String, String)> = operations(document)
            .into_iter()
            .filter(|(_, _, op)| op["tags"] == json!([name]))
            .map(|(path, method, _)| (path, method))
            .collect();
        let expected: BTreeSet<(String, String)> = [
            (&list, "get"),
            (&list, "post"),
            (&one, "get"),
            (&one, "patch"),
            (&one, "delete"),
        ]
        .into_iter()
        .map(|(p, m)| (p.clone(), m.to_owned()))
        .collect();
        assert_eq!(ops, expected, "the operations of {name}");
        let delete = &document["paths"][&one]["delete"]["description"];
        assert_eq!(
            delete.as_str().unwrap().contains("soft delete"),
            collection.soft_delete,
            "{name}: the delete says whether it is soft: {delete}"
        );
    }

    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"],
        json!(codes)
    );
    let table: Vec<(&str, u64)> = document["x-error-codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap(), c["status"].as_u64().unwrap()))
        .collect();
    let expected: Vec<(&str, u64)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), u64::from(c.http_status())))
        .collect();
    assert_eq!(table, expected);
}

#[tokio::test]
async fn the_document_is_well_formed_for_the_test_and_demo_schemas() {
    let app = spawn_app(TEST_SCHEMA).await;
    let schema = fathom_schema::parse_schema("test", TEST_SCHEMA).unwrap();
    let document = fetch_document(&app).await;
    assert_well_formed(&document, &schema);
    // Spot checks of the field mapping.
    let items = &document["components"]["schemas"]["ItemsCreate"];
    assert_eq!(items["required"], json!(["title"]));
    assert_eq!(items["additionalProperties"], false);
    let p = &items["properties"];
    assert_eq!(p["title"]["type"], "string");
    assert_eq!(p["title"]["minLength"], 2);
    assert_eq!(p["code"]["pattern"], "^(?:[A-Z]{3}-[0-9]+)$");
    assert_eq!(p["qty"]["type"], json!(["integer", "null"]));
    assert_eq!(p["qty"]["maximum"], 1000);
    assert_eq!(p["price"]["type"], json!(["string", "number", "null"]));
    assert_eq!(p["status"]["enum"], json!(["new", "done", null]));
    assert_eq!(p["category"]["format"], "uuid");
    assert_eq!(p["category"]["x-fathom-relation"], "categories");
    assert_eq!(p["meta"].get("type"), None, "json is any value");
    let record = &document["components"]["schemas"]["ItemsRecord"]["properties"];
    assert_eq!(record["price"]["type"], json!(["string", "null"]));
    assert_eq!(record["seen_at"]["format"], "date-time");
    assert_eq!(
        record["expand"]["properties"]["category"]["anyOf"][0]["$ref"],
        "#/components/schemas/CategoriesRecord"
    );
    assert_eq!(
        document["components"]["schemas"]["CategoriesRecord"]["properties"]["expand"]["properties"]
            ["items_via_category"]["items"]["$ref"],
        "#/components/schemas/ItemsRecord"
    );
    let limit = &document["components"]["parameters"]["Limit"]["schema"];
    assert_eq!(limit["default"], 20);
    assert_eq!(limit["maximum"], 100);
    app.stop().await;

    let demo = spawn_demo().await;
    let schema = fathom::demo::schema().unwrap();
    let document = fetch_document(&demo).await;
    assert_well_formed(&document, &schema);
    assert_eq!(
        document["paths"]["/api/v1/order_items"]["get"]["operationId"],
        "listOrderItems"
    );
    demo.stop().await;
}

/// A valid create body for each collection of [`TEST_SCHEMA`].
fn create_body(collection: &str) -> Value {
    match collection {
        "categories" => json!({ "name": "Lamps" }),
        "items" => json!({ "title": "Desk lamp", "code": "LMP-1", "price": "12.50" }),
        "notes" => json!({ "body": "hello" }),
        other => panic!("no create body for {other}"),
    }
}

/// Sends `method path` with an optional JSON body.
async fn send(app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> reqwest::Response {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_document_and_the_router_agree_both_ways() {
    let app = spawn_app(TEST_SCHEMA).await;
    let document = fetch_document(&app).await;
    let schema = fathom_schema::parse_schema("test", TEST_SCHEMA).unwrap();

    let mut ids = BTreeMap::new();
    for name in schema.collections.keys() {
        let record = app.create(name, &create_body(name)).await;
        ids.insert(name.clone(), record["id"].as_str().unwrap().to_owned());
    }

    // Every documented operation is routed (deletes last, so the records exist until then), and
    // answers with a status the document lists for it.
    let mut all = operations(&document);
    all.sort_by_key(|(_, method, _)| method == "delete");
    for (path, method, operation) in all {
        let collection = path
            .strip_prefix("/api/v1/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        let concrete = match ids.get(collection) {
            Some(id) => path.replace("{id}", id),
            None => path.clone(),
        };
        assert!(!concrete.contains('{'), "{path} has an unknown parameter");
        let body = match (method.as_str(), ids.contains_key(collection)) {
            ("post" | "patch", true) => Some(create_body(collection)),
            ("post", false) => Some(json!({ "operations": [
                { "op": "create", "collection": "notes", "body": { "body": "from a batch" } },
            ] })),
            _ => None,
        };
        let response = send(&app, &method, &concrete, body.as_ref()).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let code = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)["code"].clone();
        assert!(
            code != "route_not_found" && code != "method_not_allowed" && status != 405,
            "{method} {concrete} is documented but not routed: {status} {text}"
        );
        assert!(
            operation["responses"].get(status.to_string()).is_some(),
            "{method} {concrete} answered {status}, which the document does not list: {text}"
        );
    }

    // Methods the document leaves out of a collection path are refused with 405.
    for (path, item) in document["paths"].as_object().unwrap() {
        let collection = path
            .strip_prefix("/api/v1/")
            .and_then(|r| r.split('/').next());
        let Some(id) = collection.and_then(|c| ids.get(c)) else {
            continue;
        };
        let concrete = path.replace("{id}", id);
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let response = send(&app, method, &concrete, Some(&json!({}))).await;
            assert_problem(response, 405, "method_not_allowed").await;
        }
    }

    // The document's own path is a static route: it wins over `/api/v1/{collection}`.
    assert_problem(
        send(&app, "post", "/api/v1/openapi.json", Some(&json!({}))).await,
        405,
        "method_not_allowed",
    )
    .await;
    app.stop().await;
}

fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

#[tokio::test]
async fn records_from_the_api_validate_against_their_record_schemas() {
    // The demo: relations, decimals, enums, timestamps, JSON, dates and URLs, from seed data.
    let demo = spawn_demo().await;
    let document = fetch_document(&demo).await;
    let mut seen = 0;
    for (name, type_name) in [
        ("categories", "Categories"),
        ("products", "Products"),
        ("customers", "Customers"),
        ("orders", "Orders"),
        ("order_items", "OrderItems"),
    ] {
        let page = json_with_status(demo.get(&format!("/api/v1/{name}?limit=5")).await, 200).await;
        let records = page["data"].as_array().unwrap();
        assert!(!records.is_empty(), "the demo seeds {name}");
        for record in records {
            let found = problems(&document, &component(&format!("{type_name}Record")), record);
            assert!(found.is_empty(), "{name} record {record}: {found:?}");
            seen += 1;
        }
        // The single-record envelope of `get`, as the document describes it.
        let id = records[0]["id"].as_str().unwrap();
        let one = json_with_status(demo.get(&format!("/api/v1/{name}/{id}")).await, 200).await;
        let schema = &document["paths"][format!("/api/v1/{name}/{{id}}")]["get"]["responses"]["200"]
            ["content"]["application/json"]["schema"];
        let found = problems(&document, schema, &one);
        assert!(found.is_empty(), "{name} get envelope {one}: {found:?}");
    }
    assert!(seen >= 5);
    demo.stop().await;

    // Every field type, filled and left empty, through create's 201 envelope.
    let app = spawn_app(TEST_SCHEMA).await;
    let document = fetch_document(&app).await;
    let category = app.create("categories", &json!({ "name": "Tools" })).await;
    let full = json!({
        "title": "Hammer", "code": "HAM-1", "qty": 3, "weight": 1.25, "price": 9.5,
        "active": false, "seen_at": "2026-01-31T09:30:00+02:00", "due": "2026-02-01",
        "ref": "0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12", "meta": { "tags": ["a"] }, "status": "done",
        "category": category["id"], "contact": "ada@example.com", "link": "https://example.com/x",
    });
    let create_schema = &document["paths"]["/api/v1/items"]["post"]["responses"]["201"]["content"]
        ["application/json"]["schema"];
    for body in [full, json!({ "title": "Nail" })] {
        let found = problems(&document, &component("ItemsCreate"), &body);
        assert!(found.is_empty(), "the body fits ItemsCreate: {found:?}");
        let response = app.post_json("/api/v1/items", &body).await;
        let created = json_with_status(response, 201).await;
        let found = problems(&document, create_schema, &created);
        assert!(found.is_empty(), "created {created}: {found:?}");
    }

    // The list envelope, with the total, and a batch's results.
    let list = json_with_status(app.get("/api/v1/items?count=true&limit=1").await, 200).await;
    let list_schema = &document["paths"]["/api/v1/items"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let found = problems(&document, list_schema, &list);
    assert!(found.is_empty(), "list {list}: {found:?}");
    let note = app.create("notes", &json!({ "body": "to change" })).await;
    let batch = json!({ "operations": [
        { "op": "create", "collection": "categories", "body": { "name": "Garden" } },
        { "op": "update", "collection": "notes", "id": note["id"], "body": { "body": "changed" } },
        { "op": "delete", "collection": "notes", "id": note["id"] },
    ] });
    let found = problems(&document, &component("BatchRequest"), &batch);
    assert!(found.is_empty(), "the batch fits BatchRequest: {found:?}");
    let results = json_with_status(app.post_json("/api/v1/batch", &batch).await, 200).await;
    let found = problems(&document, &component("BatchResponse"), &results);
    assert!(found.is_empty(), "batch results {results}: {found:?}");

    // The checker is not vacuous: broken records fail.
    let record = app.create("notes", &json!({ "body": "x" })).await;
    let schema = component("NotesRecord");
    assert!(problems(&document, &schema, &record).is_empty());
    for (key, broken) in [
        ("id", json!("not-a-uuid")),
        ("version", json!("1")),
        ("body", Value::Null),
        ("created_at", json!("yesterday")),
    ] {
        let mut bad = record.clone();
        bad[key] = broken;
        assert!(
            !problems(&document, &schema, &bad).is_empty(),
            "{key} broken must fail"
        );
    }
    let mut missing = record.clone();
    missing.as_object_mut().unwrap().remove("updated_at");
    assert!(!problems(&document, &schema, &missing).is_empty());
    assert!(
        !problems(
            &document,
            &component("NotesCreate"),
            &json!({ "body": "x", "id": "y" })
        )
        .is_empty(),
        "create bodies refuse unknown and system fields"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_docs_page_is_self_contained_and_locked_down() {
    let app = spawn_app(TEST_SCHEMA).await;
    let page = app.get("/api/docs").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for needed in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(needed), "the CSP has {needed}: {policy}");
    }
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
        "{policy}"
    );
    let html = page.text().await.unwrap();

    // Scripts and styles come only from files (no inline code, which the CSP would block).
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(r#"<script src="/api/docs/docs.js" defer></script>"#));
    assert!(!html.contains("<style") && !html.contains("style="));
    let handlers = html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    });
    assert!(!handlers, "no inline event handlers");

    let mut texts = vec![("page", html.clone())];
    for (path, content_type) in [
        ("/api/docs/docs.js", "text/javascript; charset=utf-8"),
        ("/api/docs/docs.css", "text/css; charset=utf-8"),
    ] {
        assert!(html.contains(path), "the page links {path}");
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        texts.push((path, response.text().await.unwrap()));
    }
    for (name, text) in &texts {
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "{name} refers to another origin"
        );
    }
    let script = &texts[1].1;
    assert!(script.contains("/api/v1/openapi.json") && script.contains("fetch("));
    assert!(
        !script.contains("innerHTML") && !script.contains("eval("),
        "text from the document is never parsed as HTML or code"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_cli_prints_the_document_the_server_serves() {
    let app = spawn_app(TEST_SCHEMA).await;
    let served = fetch_document(&app).await;
    app.stop().await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.schema.toml"), TEST_SCHEMA).unwrap();
    let output = run_cli(dir.path(), &["openapi", "--schema", "shop.schema.toml"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, served);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("\n  \"openapi\": \"3.1.0\""),
        "pretty-printed"
    );

    let demo = spawn_demo().await;
    let served = fetch_document(&demo).await;
    demo.stop().await;
    let output = run_cli(dir.path(), &["openapi", "--demo"]);
    assert!(output.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        served
    );

    // A broken schema file is reported, not printed as a document.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[collections.x]\nfields.a = 1\n",
    )
    .unwrap();
    let output = run_cli(dir.path(), &["openapi", "--schema", "bad.toml"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.toml"));
}
