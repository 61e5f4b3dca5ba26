//! The OpenAPI document and the docs page: the document is well formed, it and the router agree
//! in both directions (every operation, the authenticated and administrative ones included, with
//! real tokens), real answers fit what the document says of them, the docs page is
//! self-contained, and `fathom openapi` prints what the server serves.

mod accounts;
pub(crate) mod check;
mod conformance;
mod totp_fixture;

use std::collections::{BTreeMap, BTreeSet};

use fathom_core::ErrorCode;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use self::accounts::{Accounts, Call};
use self::check::{problems, resolve};

use crate::helpers::{
    TEST_SCHEMA, TestApp, assert_problem, json_with_status, run_cli, spawn_app, spawn_app_with,
    spawn_demo,
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
            responses
                .keys()
                .any(|status| status.starts_with('2') || status == "101"),
            "{id} has a 2xx response (or switches protocols)"
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

    assert_security(document);
    assert_auth_and_admin_operations(document);
    assert_rate_limit_headers(document);

    for (name, collection) in &schema.collections {
        let list = format!("/api/v1/{name}");
        let one = format!("/api/v1/{name}/{{id}}");
        let ops: BTreeSet<(String, String)> = operations(document)
            .into_iter()
            .filter(|(_, _, op)| op["tags"] == json!([name]))
            .map(|(path, method, _)| (path, method))
            .collect();
        let restore = format!("{one}/restore");
        let mut expected: BTreeSet<(String, String)> = [
            (&list, "get"),
            (&list, "post"),
            (&one, "get"),
            (&one, "patch"),
            (&one, "delete"),
        ]
        .into_iter()
        .map(|(p, m)| (p.clone(), m.to_owned()))
        .collect();
        // Collections that keep deleted records can bring them back.
        if collection.soft_delete {
            expected.insert((restore, "post".to_owned()));
        }
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

/// The operations under `/api/v1/auth` and `/api/v1/admin`, and whether each needs a token.
const AUTH_OPERATIONS: &[(&str, &str, &str, bool)] = &[
    ("auth", "/api/v1/auth/register", "post", false),
    ("auth", "/api/v1/auth/verify", "post", false),
    ("auth", "/api/v1/auth/verify/resend", "post", false),
    ("auth", "/api/v1/auth/email", "post", true),
    ("auth", "/api/v1/auth/login", "post", false),
    ("auth", "/api/v1/auth/login/second-factor", "post", false),
    ("auth", "/api/v1/auth/refresh", "post", false),
    ("auth", "/api/v1/auth/logout", "post", true),
    ("auth", "/api/v1/auth/me", "get", true),
    ("auth", "/api/v1/auth/me", "patch", true),
    ("auth", "/api/v1/auth/password", "post", true),
    ("auth", "/api/v1/auth/password-reset", "post", false),
    ("auth", "/api/v1/auth/password-reset/confirm", "post", false),
    ("auth", "/api/v1/auth/sessions", "get", true),
    ("auth", "/api/v1/auth/sessions", "delete", true),
    ("auth", "/api/v1/auth/totp", "get", true),
    ("auth", "/api/v1/auth/totp", "post", true),
    ("auth", "/api/v1/auth/totp", "delete", true),
    ("auth", "/api/v1/auth/totp/confirm", "post", true),
    ("auth", "/api/v1/auth/totp/recovery-codes", "post", true),
    ("auth", "/api/v1/auth/passkeys", "get", true),
    ("auth", "/api/v1/auth/passkeys", "post", true),
    ("auth", "/api/v1/auth/passkeys/{id}", "delete", true),
    (
        "auth",
        "/api/v1/auth/passkeys/registration/options",
        "post",
        true,
    ),
    ("auth", "/api/v1/auth/passkeys/login/options", "post", false),
    ("auth", "/api/v1/auth/passkeys/login", "post", false),
    ("auth", "/api/v1/auth/sessions/{id}", "delete", true),
    ("auth", "/api/v1/auth/jwks.json", "get", false),
    ("admin", "/api/v1/admin/users", "get", true),
    ("admin", "/api/v1/admin/users/{id}", "get", true),
    ("admin", "/api/v1/admin/users/{id}", "patch", true),
    ("admin", "/api/v1/admin/users", "post", true),
    ("admin", "/api/v1/admin/users/{id}", "delete", true),
    ("admin", "/api/v1/admin/users/{id}/password", "put", true),
    ("admin", "/api/v1/admin/audit", "get", true),
    ("admin", "/api/v1/admin/mailbox", "get", true),
    ("admin", "/api/v1/admin/api-keys", "get", true),
    ("admin", "/api/v1/admin/api-keys", "post", true),
    ("admin", "/api/v1/admin/api-keys/{id}", "delete", true),
    ("admin", "/api/v1/admin/brokers", "get", true),
    ("admin", "/api/v1/admin/advice", "get", true),
    ("admin", "/api/v1/admin/webhooks", "get", true),
    ("admin", "/api/v1/admin/webhooks", "post", true),
    ("admin", "/api/v1/admin/webhooks/{id}", "get", true),
    ("admin", "/api/v1/admin/webhooks/{id}", "patch", true),
    ("admin", "/api/v1/admin/webhooks/{id}", "delete", true),
    (
        "admin",
        "/api/v1/admin/webhooks/{id}/rotate-secret",
        "post",
        true,
    ),
    ("admin", "/api/v1/admin/webhooks/{id}/test", "post", true),
    ("admin", "/api/v1/admin/webhooks/{id}/attempts", "get", true),
    (
        "admin",
        "/api/v1/admin/webhooks/{id}/dead-letters",
        "get",
        true,
    ),
    ("admin", "/api/v1/admin/webhooks/{id}/replay", "post", true),
];

/// The operations behind the auth routes' per-address limits (`auth.rate_limits`), on top of
/// the data API's limits that every `/api/v1` operation is behind.
const RATE_LIMITED: &[&str] = &[
    "/api/v1/auth/login",
    "/api/v1/auth/password",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/confirm",
    "/api/v1/auth/refresh",
    "/api/v1/auth/register",
    "/api/v1/auth/verify",
];

const RATE_LIMIT_HEADERS: &[&str] = &["RateLimit-Policy", "RateLimit"];

/// `bearerAuth` is defined; every `security` requirement names a defined scheme; every
/// operation that needs a token documents the 401 it answers without one.
fn assert_security(document: &Value) {
    let schemes = &document["components"]["securitySchemes"];
    let bearer = &schemes["bearerAuth"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    assert_eq!(bearer["bearerFormat"], "JWT", "{bearer}");
    let unauthorized = &document["components"]["responses"]["Unauthorized"];
    assert!(
        unauthorized["headers"].get("WWW-Authenticate").is_some(),
        "the 401 response documents the challenge: {unauthorized}"
    );

    let mut secured = 0;
    for (path, method, operation) in operations(document) {
        let Some(requirements) = operation.get("security") else {
            continue;
        };
        secured += 1;
        for requirement in requirements.as_array().expect("security is a list") {
            for scheme in requirement
                .as_object()
                .expect("a requirement is an object")
                .keys()
            {
                assert!(
                    schemes.get(scheme).is_some(),
                    "{method} {path} requires the undefined scheme {scheme}"
                );
            }
        }
        let response = operation["responses"]
            .get("401")
            .unwrap_or_else(|| panic!("{method} {path} needs a token but documents no 401"));
        // Rate-limited operations write their problem responses out, to add the limit headers.
        let response = resolve(document, response);
        assert!(
            response["headers"].get("WWW-Authenticate").is_some(),
            "{method} {path}: {response}"
        );
        assert!(
            response["content"]
                .get("application/problem+json")
                .is_some(),
            "{method} {path}: {response}"
        );
    }
    assert!(
        secured >= 10,
        "the token-protected operations carry `security`"
    );
}

/// The auth and admin operations are exactly the expected ones, under their tags, with
/// `security` where a token is needed and 401 and 403 on every administrative one.
fn assert_auth_and_admin_operations(document: &Value) {
    let found: BTreeSet<(String, String, String, bool)> = operations(document)
        .into_iter()
        .filter(|(_, _, op)| op["tags"] == json!(["auth"]) || op["tags"] == json!(["admin"]))
        .map(|(path, method, op)| {
            let tag = op["tags"][0].as_str().unwrap().to_owned();
            (tag, path, method, op.get("security").is_some())
        })
        .collect();
    let expected: BTreeSet<(String, String, String, bool)> = AUTH_OPERATIONS
        .iter()
        .map(|(tag, path, method, secured)| {
            (
                (*tag).to_owned(),
                (*path).to_owned(),
                (*method).to_owned(),
                *secured,
            )
        })
        .collect();
    assert_eq!(found, expected, "the auth and admin operations");
    for (path, method, operation) in operations(document) {
        if operation["tags"] == json!(["admin"]) {
            for status in ["401", "403"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} documents {status}"
                );
            }
            assert!(
                operation["operationId"]
                    .as_str()
                    .unwrap()
                    .starts_with("admin")
            );
        }
        if operation["tags"] == json!(["auth"]) {
            assert!(
                operation["operationId"]
                    .as_str()
                    .unwrap()
                    .starts_with("auth")
            );
        }
    }
    let tags: Vec<&str> = document["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        tags.contains(&"auth") && tags.contains(&"admin"),
        "{tags:?}"
    );
}

/// Every answer of a rate-limited operation (all of `/api/v1`) documents the `RateLimit-Policy`
/// and `RateLimit` fields, and its 429 `Retry-After`; no other operation claims them.
fn assert_rate_limit_headers(document: &Value) {
    for (path, method, operation) in operations(document) {
        let limited = path.starts_with("/api/v1/");
        assert_eq!(
            operation["responses"].get("429").is_some(),
            limited,
            "{method} {path}: a 429 exactly when rate limited"
        );
        for (status, response) in operation["responses"].as_object().unwrap() {
            let response = resolve(document, response);
            let headers = &response["headers"];
            assert!(
                headers.get("X-Request-Id").is_some(),
                "{method} {path} {status} documents X-Request-Id"
            );
            for name in RATE_LIMIT_HEADERS {
                assert_eq!(
                    headers.get(*name).is_some(),
                    limited,
                    "{method} {path} {status}: {name}"
                );
            }
            assert_eq!(
                headers.get("Retry-After").is_some(),
                limited && status == "429",
                "{method} {path} {status}: Retry-After"
            );
        }
    }
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
        "#/components/schemas/CategoriesSelected"
    );
    assert_eq!(
        document["components"]["schemas"]["CategoriesRecord"]["properties"]["expand"]["properties"]
            ["items_via_category"]["items"]["$ref"],
        "#/components/schemas/ItemsSelected"
    );
    let limit = &document["components"]["parameters"]["Limit"]["schema"];
    assert_eq!(limit["default"], 20);
    assert_eq!(limit["maximum"], 100);
    // Spot checks of the auth and admin shapes.
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["TokenPair"]["properties"]["token_type"]["const"],
        "Bearer"
    );
    assert_eq!(
        schemas["TokenPair"]["properties"]["user"]["$ref"],
        "#/components/schemas/User"
    );
    for key in [
        "disabled",
        "failed_logins",
        "locked_until",
        "updated_at",
        "email",
    ] {
        assert!(
            schemas["AdminUser"]["required"]
                .as_array()
                .unwrap()
                .contains(&json!(key)),
            "AdminUser has {key}"
        );
    }
    let changes = &schemas["UserChanges"];
    assert_eq!(changes["additionalProperties"], false);
    assert_eq!(changes["properties"]["roles"]["maxItems"], 16);
    assert_eq!(
        changes["properties"]["roles"]["items"]["pattern"],
        "^[a-z0-9_-]{1,32}$"
    );
    assert_eq!(
        changes["properties"]["tenant"]["type"],
        json!(["string", "null"])
    );
    let key = &schemas["Jwk"]["properties"];
    assert_eq!(
        (
            &key["kty"]["const"],
            &key["crv"]["const"],
            &key["alg"]["const"],
            &key["use"]["const"]
        ),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig")
        )
    );
    let new_password = schemas["NewPassword"]["description"].as_str().unwrap();
    for code in ["too_short", "too_long", "too_common", "same_as_email"] {
        assert!(new_password.contains(code), "{new_password}");
    }
    let paths = &document["paths"];
    let users = &paths["/api/v1/admin/users"]["get"]["parameters"];
    assert_eq!(users[0]["schema"]["maximum"], 200);
    assert_eq!(users[1]["schema"]["format"], "uuid");
    assert_eq!(
        paths["/api/v1/admin/audit"]["get"]["parameters"][0]["schema"]["maximum"],
        1000
    );
    assert!(
        paths["/api/v1/auth/register"]["post"]["responses"]
            .get("403")
            .is_some()
    );
    assert!(
        paths["/api/v1/auth/login"]["post"]["description"]
            .as_str()
            .unwrap()
            .contains("invalid_credentials")
    );
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

/// Sends `method path` with an optional JSON body and bearer token.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> reqwest::Response {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    // Without a token of its own, a call goes out as the test administrator (records have no
    // rules in the test schema: administrators only); `Some("")` sends no credentials at all.
    let client = if token == Some("") {
        &app.anonymous
    } else {
        &app.client
    };
    let token = token.filter(|t| !t.is_empty());
    let mut request = client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// An answer, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Self {
            status,
            headers,
            text,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// Holds an answer to what the document says of `operation` at its status: the status is listed,
/// the required headers are there, the media type is the documented one, and the body fits the
/// documented schema.
fn assert_documented(document: &Value, operation: &Value, context: &str, answer: &Answer) {
    let status = answer.status;
    let text = &answer.text;
    let Some(response) = operation["responses"].get(status.to_string()) else {
        panic!("{context} answered {status}, which the document does not list: {text}");
    };
    let response = resolve(document, response);
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        if resolve(document, header)["required"] == true {
            assert!(
                answer.headers.contains_key(name.as_str()),
                "{context} answered {status} without the documented header {name}"
            );
        }
    }
    match response["content"]
        .as_object()
        .and_then(|c| c.iter().next())
    {
        Some((media_type, media)) => {
            let content_type = answer
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(
                content_type.starts_with(media_type.as_str()),
                "{context} answered {status} as {content_type}, documented as {media_type}"
            );
            let body: Value = serde_json::from_str(text).unwrap_or_else(|e| {
                panic!("{context} answered {status} with no JSON ({e}): {text}")
            });
            let found = problems(document, &media["schema"], &body);
            assert!(
                found.is_empty(),
                "{context} answered {status} with a body unlike the document's: {found:?}\n{body}"
            );
        }
        None => assert!(
            text.is_empty(),
            "{context} answered {status} with a body the document does not describe: {text}"
        ),
    }
}

/// The request for a records, batch or service operation, given the ids of existing records.
fn record_call(path: &str, method: &str, ids: &BTreeMap<String, String>) -> Call {
    let collection = path
        .strip_prefix("/api/v1/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    let concrete = match ids.get(collection) {
        Some(id) => path.replace("{id}", id),
        None => path.to_owned(),
    };
    let body = match (method, ids.contains_key(collection)) {
        ("post" | "patch", true) => Some(create_body(collection)),
        ("post", false) => Some(json!({ "operations": [
            { "op": "create", "collection": "notes", "body": { "body": "from a batch" } },
        ] })),
        _ => None,
    };
    Call {
        path: concrete,
        body,
        token: None,
    }
}

fn is_auth_or_admin(operation: &Value) -> bool {
    operation["tags"] == json!(["auth"]) || operation["tags"] == json!(["admin"])
}

#[tokio::test]
async fn the_document_and_the_router_agree_both_ways() {
    // A quota no test run reaches: the limit has its own test below.
    let app = spawn_app_with(TEST_SCHEMA, |c| {
        crate::auth::passkeys::device::passkey_config(c);
        c.auth.rate_limit_per_minute = 100_000;
        // Sign-in, the password, the email and every TOTP route share this family's budget.
        c.auth.rate_limits.login = 0;
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
    })
    .await;
    let document = fetch_document(&app).await;
    let schema = fathom_schema::parse_schema("test", TEST_SCHEMA).unwrap();

    let mut ids = BTreeMap::new();
    for name in schema.collections.keys() {
        let record = app.create(name, &create_body(name)).await;
        ids.insert(name.clone(), record["id"].as_str().unwrap().to_owned());
    }
    let accounts = Accounts::new(&app).await;
    let call = |path: &str, method: &str, operation: &Value| {
        if is_auth_or_admin(operation) {
            accounts.call(method, path)
        } else {
            record_call(path, method, &ids)
        }
    };

    // Operations that need a token refuse a caller without one (401 with the challenge), and
    // administrative ones a caller without the `admin` role (403), as documented.
    for (path, method, operation) in operations(&document) {
        if operation.get("security").is_none() {
            continue;
        }
        let Call {
            path: concrete,
            body,
            ..
        } = call(&path, &method, &operation);
        let context = format!("{method} {concrete} without a token");
        let answer =
            Answer::of(send(&app, &method, &concrete, body.as_ref(), Some("")).await).await;
        assert_documented(&document, &operation, &context, &answer);
        assert_eq!(answer.status, 401, "{context}: {}", answer.text);
        assert_eq!(answer.json()["code"], "unauthorized", "{context}");
        assert_eq!(
            answer.headers["www-authenticate"], "Bearer realm=\"fathom\"",
            "{context}"
        );
        if operation["tags"] == json!(["admin"]) {
            let member = accounts.member_token();
            let context = format!("{method} {concrete} as a member");
            let answer =
                Answer::of(send(&app, &method, &concrete, body.as_ref(), Some(member)).await).await;
            assert_documented(&document, &operation, &context, &answer);
            assert_eq!(answer.status, 403, "{context}: {}", answer.text);
            assert_eq!(answer.json()["code"], "forbidden", "{context}");
        }
    }

    // Every documented operation is routed and answers as documented: deletes last (so the
    // records and sessions exist until then), and ending every other session very last. Auth
    // and admin operations, sent with real tokens, succeed.
    let mut all = operations(&document);
    all.sort_by_key(|(path, method, _)| (method == "delete", !path.contains('{')));
    for (path, method, operation) in all {
        let Call {
            path: concrete,
            body,
            token,
        } = call(&path, &method, &operation);
        assert!(!concrete.contains('{'), "{path} has an unknown parameter");
        let response = send(&app, &method, &concrete, body.as_ref(), token.as_deref()).await;
        if operation["operationId"] == "realtimeStream" {
            // A stream never ends by itself: its head is what can be checked here (the
            // realtime suite reads its frames).
            assert_eq!(response.status(), 200, "{method} {concrete}");
            let media = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                operation["responses"]["200"]["content"][&media].is_object(),
                "{media}"
            );
            continue;
        }
        let answer = Answer::of(response).await;
        let (status, text) = (answer.status, &answer.text);
        let code = answer.json()["code"].clone();
        assert!(
            code != "route_not_found" && code != "method_not_allowed" && status != 405,
            "{method} {concrete} is documented but not routed: {status} {text}"
        );
        let context = format!("{method} {concrete}");
        assert_documented(&document, &operation, &context, &answer);
        if is_auth_or_admin(&operation) {
            assert!(
                (200..300).contains(&status),
                "{context} failed with a real token: {status} {text}"
            );
        }
    }

    // The documented page bounds of the admin lists are the ones enforced.
    for path in ["/api/v1/admin/users", "/api/v1/admin/audit"] {
        let limit = &document["paths"][path]["get"]["parameters"][0];
        assert_eq!(limit["name"], "limit");
        let maximum = limit["schema"]["maximum"].as_u64().unwrap();
        let token = Some(accounts.admin_token());
        for (value, status) in [(maximum, 200), (maximum + 1, 400), (0, 400)] {
            let concrete = format!("{path}?limit={value}");
            let answer = Answer::of(send(&app, "get", &concrete, None, token).await).await;
            assert_eq!(answer.status, status, "GET {concrete}: {}", answer.text);
            let operation = &document["paths"][path]["get"];
            assert_documented(&document, operation, &format!("GET {concrete}"), &answer);
        }
    }

    // Methods the document leaves out of a path are refused with 405, on collection paths and on
    // the auth and admin ones.
    for (path, item) in document["paths"].as_object().unwrap() {
        let collection = path
            .strip_prefix("/api/v1/")
            .and_then(|r| r.split('/').next());
        let concrete = if let Some(id) = collection.and_then(|c| ids.get(c)) {
            path.replace("{id}", id)
        } else if matches!(collection, Some("auth" | "admin")) {
            path.replace("{id}", accounts.member_id())
        } else {
            continue;
        };
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let response = send(&app, method, &concrete, Some(&json!({})), None).await;
            let context = format!("{method} {concrete}");
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_eq!(status, 405, "{context}: {body}");
            let body: Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{context}: the 405 is not a problem: {body}"));
            assert_eq!(body["code"], "method_not_allowed", "{context}");
        }
    }

    // The document's own path is a static route: it wins over `/api/v1/{collection}`.
    assert_problem(
        send(&app, "post", "/api/v1/openapi.json", Some(&json!({})), None).await,
        405,
        "method_not_allowed",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn rate_limited_answers_carry_the_documented_headers() {
    const LIMIT: usize = 2;
    let app = spawn_app_with(TEST_SCHEMA, |c| c.auth.rate_limit_per_minute = LIMIT as u32).await;
    let document = fetch_document(&app).await;
    let limited: Vec<(String, String, Value)> = operations(&document)
        .into_iter()
        .filter(|(path, _, _)| RATE_LIMITED.contains(&path.as_str()))
        .collect();
    let paths: BTreeSet<&str> = limited.iter().map(|(path, _, _)| path.as_str()).collect();
    assert_eq!(paths, RATE_LIMITED.iter().copied().collect());
    assert!(
        limited
            .iter()
            .all(|(_, _, operation)| operation["responses"].get("429").is_some())
    );

    // One quota per client address across these operations: the first `LIMIT` requests pass (and
    // fail validation: the bodies are empty), the rest are refused.
    let mut refused = 0;
    for (i, (path, method, operation)) in limited.iter().enumerate() {
        let answer = Answer::of(send(&app, method, path, Some(&json!({})), None).await).await;
        let context = format!("{method} {path} (request {i})");
        assert_documented(&document, operation, &context, &answer);
        // Within the quota a token-protected operation answers the missing token first.
        let expected = match operation.get("security") {
            _ if i >= LIMIT => 429,
            Some(_) => 401,
            None => 400,
        };
        assert_eq!(answer.status, expected, "{context}: {}", answer.text);
        for name in RATE_LIMIT_HEADERS.iter().chain(&["Retry-After"]) {
            let documented =
                resolve(&document, &operation["responses"][expected.to_string()])["headers"]
                    .get(*name)
                    .is_some();
            assert_eq!(
                answer.headers.contains_key(*name),
                documented,
                "{context}: {name} is sent exactly when documented"
            );
        }
        if answer.status == 429 {
            assert_eq!(answer.json()["code"], "too_many_requests");
            refused += 1;
        }
    }
    assert_eq!(refused, limited.len() - LIMIT);
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
    // "Try it" sends a pasted access token as `Authorization: Bearer …` to the operations whose
    // security scheme asks for one, and keeps it only in the page's memory.
    for needed in ["securitySchemes", "'bearer'", "authorization", "'Bearer '"] {
        assert!(
            script.contains(needed),
            "the script handles bearer auth: {needed}"
        );
    }
    for storage in [
        "localStorage",
        "sessionStorage",
        "document.cookie",
        "indexedDB",
    ] {
        assert!(
            !script.contains(storage),
            "the token is not stored: {storage}"
        );
    }
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
