//! Relations to accounts: the id must name an account (of the record's tenant in a
//! tenant-scoped collection), rules such as `owner = auth.id` decide who may do what through
//! get, list, count, filter and batch, `expand` shows only what the caller may see of an
//! account, and filters read account fields only where the caller may see them.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, json_with_status, mint_member, mint_user, send_as, spawn_app,
};

pub const SCHEMA: &str = r#"
[users]
fields.display_name = { type = "text" }
fields.phone = { type = "text", hidden = true }
fields.karma = { type = "integer" }

[collections.notes]
rules = { list = "owner = auth.id", view = "owner = auth.id", create = "owner = auth.id", update = "owner = auth.id", delete = "owner = auth.id" }
fields.title = { type = "text", required = true }
fields.owner = { type = "relation", collection = "users", on_delete = "cascade" }

[collections.posts]
rules = { list = true, view = true, create = "auth.id != null && author = auth.id" }
fields.title = { type = "text", required = true }
fields.author = { type = "relation", collection = "users", on_delete = "set_null" }

[collections.invoices]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null" }
fields.amount = { type = "integer", required = true }
fields.customer = { type = "relation", collection = "users", required = true }
"#;

pub struct People {
    pub app: TestApp,
    pub admin: String,
    pub alice_id: String,
    pub alice: String,
    pub bob_id: String,
    pub bob: String,
}

pub async fn people(schema: &str) -> People {
    let app = spawn_app(schema).await;
    let (_, admin) = mint_user(&app.store, &app.auth, "root@example.test", &["admin"]).await;
    let (alice_id, alice) = mint_user(&app.store, &app.auth, "alice@example.test", &[]).await;
    let (bob_id, bob) = mint_user(&app.store, &app.auth, "bob@example.test", &[]).await;
    let profile = json!({"display_name": "Alice", "phone": "555-0100", "karma": 42});
    let Value::Object(profile) = profile else {
        unreachable!()
    };
    app.store
        .patch_profile(alice_id, profile)
        .await
        .expect("profile");
    People {
        app,
        admin,
        alice_id: alice_id.to_string(),
        alice,
        bob_id: bob_id.to_string(),
        bob,
    }
}

pub async fn create(app: &TestApp, token: &str, collection: &str, body: Value) -> Value {
    let path = format!("/api/v1/{collection}");
    json_with_status(
        send_as(app, "POST", &path, Some(token), Some(body)).await,
        201,
    )
    .await["data"]
        .clone()
}

async fn get_json(app: &TestApp, token: Option<&str>, path: &str) -> Value {
    json_with_status(send_as(app, "GET", path, token, None).await, 200).await
}

fn query(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

#[tokio::test]
async fn a_relation_to_users_must_name_an_existing_account() {
    let p = people(SCHEMA).await;
    let nobody = uuid::Uuid::now_v7().to_string();
    let refused = assert_problem(
        send_as(
            &p.app,
            "POST",
            "/api/v1/posts",
            Some(&p.admin),
            Some(json!({"title": "x", "author": nobody})),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "author", "{refused}");
    assert_eq!(refused["errors"][0]["code"], "not_found", "{refused}");
    // Not a UUID at all: a validation error, as for any relation.
    assert_problem(
        send_as(
            &p.app,
            "POST",
            "/api/v1/posts",
            Some(&p.admin),
            Some(json!({"title": "x", "author": "alice"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let post = create(
        &p.app,
        &p.alice,
        "posts",
        json!({"title": "Hi", "author": p.alice_id}),
    )
    .await;
    assert_eq!(post["author"], p.alice_id.as_str());
    // A patch to a missing account is refused too, and changes nothing.
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    assert_problem(
        send_as(
            &p.app,
            "PATCH",
            &path,
            Some(&p.admin),
            Some(json!({"author": nobody})),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    let stored = get_json(&p.app, Some(&p.admin), &path).await;
    assert_eq!(stored["data"]["author"], p.alice_id.as_str());
}

#[tokio::test]
async fn owner_rules_decide_get_list_count_filter_and_batch() {
    let p = people(SCHEMA).await;
    let note = create(
        &p.app,
        &p.alice,
        "notes",
        json!({"title": "mine", "owner": p.alice_id}),
    )
    .await;
    let path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    // Who may: the owner, through get, list, count and a filter on the relation.
    get_json(&p.app, Some(&p.alice), &path).await;
    let listed = get_json(&p.app, Some(&p.alice), "/api/v1/notes?count=true").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["meta"]["page"]["total"], 1, "{listed}");
    let by_owner = format!(
        "/api/v1/notes?count=true&filter={}",
        query(&format!("owner = \"{}\"", p.alice_id))
    );
    assert_eq!(
        get_json(&p.app, Some(&p.alice), &by_owner).await["meta"]["page"]["total"],
        1
    );
    // Who may not: another user sees nothing of it, by id, in lists, counts or filters.
    assert_problem(
        send_as(&p.app, "GET", &path, Some(&p.bob), None).await,
        404,
        "record_not_found",
    )
    .await;
    let theirs = get_json(&p.app, Some(&p.bob), "/api/v1/notes?count=true").await;
    assert_eq!(theirs["data"], json!([]));
    assert_eq!(theirs["meta"]["page"]["total"], 0);
    assert_eq!(
        get_json(&p.app, Some(&p.bob), &by_owner).await["meta"]["page"]["total"],
        0
    );
    // ... nor anonymous callers.
    assert_problem(
        send_as(&p.app, "GET", &path, None, None).await,
        404,
        "record_not_found",
    )
    .await;
    // Nobody writes a record owned by someone else, alone or in a batch.
    assert_problem(
        send_as(
            &p.app,
            "POST",
            "/api/v1/notes",
            Some(&p.bob),
            Some(json!({"title": "x", "owner": p.alice_id})),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let batch = json!({"operations": [
        {"op": "create", "collection": "notes", "body": {"title": "ok", "owner": p.bob_id}},
        {"op": "create", "collection": "notes", "body": {"title": "planted", "owner": p.alice_id}}
    ]});
    assert_problem(
        send_as(&p.app, "POST", "/api/v1/batch", Some(&p.bob), Some(batch)).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        get_json(&p.app, Some(&p.bob), "/api/v1/notes?count=true").await["meta"]["page"]["total"],
        0,
        "the batch wrote nothing"
    );
    let batch = json!({"operations": [
        {"op": "create", "collection": "notes", "body": {"title": "mine too", "owner": p.bob_id}},
        {"op": "update", "collection": "notes", "id": note["id"], "body": {"title": "stolen"}}
    ]});
    assert_problem(
        send_as(&p.app, "POST", "/api/v1/batch", Some(&p.bob), Some(batch)).await,
        404,
        "record_not_found",
    )
    .await;
    let batch = json!({"operations": [
        {"op": "create", "collection": "notes", "body": {"title": "mine too", "owner": p.bob_id}}
    ]});
    json_with_status(
        send_as(&p.app, "POST", "/api/v1/batch", Some(&p.bob), Some(batch)).await,
        200,
    )
    .await;
    assert_eq!(
        get_json(&p.app, Some(&p.bob), "/api/v1/notes?count=true").await["meta"]["page"]["total"],
        1
    );
    // Handing one's record over to another account is refused by the update rule's check of
    // the stored row.
    let stored = get_json(&p.app, Some(&p.alice), &path).await;
    assert_eq!(stored["data"]["title"], "mine");
    assert_problem(
        send_as(
            &p.app,
            "PATCH",
            &path,
            Some(&p.alice),
            Some(json!({"owner": p.bob_id})),
        )
        .await,
        403,
        "rule_violation",
    )
    .await;
}

#[tokio::test]
async fn expand_shows_only_what_the_caller_may_see_of_an_account() {
    let p = people(SCHEMA).await;
    let post = create(
        &p.app,
        &p.alice,
        "posts",
        json!({"title": "Hi", "author": p.alice_id}),
    )
    .await;
    let path = format!(
        "/api/v1/posts/{}?expand=author",
        post["id"].as_str().unwrap()
    );
    let public = json!({"id": p.alice_id, "display_name": "Alice", "karma": 42});
    // Another user and an anonymous caller: the id and the public profile, nothing else.
    for token in [Some(p.bob.as_str()), None] {
        let seen = get_json(&p.app, token, &path).await;
        assert_eq!(seen["data"]["expand"]["author"], public, "{seen}");
    }
    let listed = get_json(&p.app, None, "/api/v1/posts?expand=author").await;
    assert_eq!(listed["data"][0]["expand"]["author"], public);
    // The account itself and administrators also see the email and hidden profile fields.
    let private = json!({"id": p.alice_id, "email": "alice@example.test", "display_name": "Alice", "phone": "555-0100", "karma": 42});
    for token in [&p.alice, &p.admin] {
        let seen = get_json(&p.app, Some(token), &path).await;
        assert_eq!(seen["data"]["expand"]["author"], private, "{seen}");
    }
    // Never the password hash, roles, lockout or verification state, whoever asks.
    let text = get_json(&p.app, Some(&p.admin), &path).await.to_string();
    for secret in [
        "password",
        "argon2",
        "locked_until",
        "failed_logins",
        "roles",
        "verified",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // `fields` picks inside the account like inside any expanded record.
    let picked = get_json(
        &p.app,
        Some(&p.bob),
        &format!(
            "/api/v1/posts/{}?fields=title,author.display_name",
            post["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        picked["data"]["expand"]["author"],
        json!({"id": p.alice_id, "display_name": "Alice"})
    );
    // Nothing nests inside an account.
    assert_problem(
        send_as(
            &p.app,
            "GET",
            "/api/v1/posts?expand=author.notes_via_owner",
            Some(&p.admin),
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn public_email_shows_the_email_through_relations() {
    let schema = SCHEMA.replace("[users]\n", "[users]\npublic_email = true\n");
    let p = people(&schema).await;
    let post = create(
        &p.app,
        &p.alice,
        "posts",
        json!({"title": "Hi", "author": p.alice_id}),
    )
    .await;
    let path = format!(
        "/api/v1/posts/{}?expand=author",
        post["id"].as_str().unwrap()
    );
    let seen = get_json(&p.app, Some(&p.bob), &path).await;
    assert_eq!(
        seen["data"]["expand"]["author"]["email"],
        "alice@example.test"
    );
    assert!(seen["data"]["expand"]["author"].get("phone").is_none());
    let filter = format!(
        "/api/v1/posts?count=true&filter={}",
        query("author.email = \"alice@example.test\"")
    );
    assert_eq!(
        get_json(&p.app, Some(&p.bob), &filter).await["meta"]["page"]["total"],
        1
    );
}

#[tokio::test]
async fn filters_read_account_fields_only_where_the_caller_may_see_them() {
    let p = people(SCHEMA).await;
    create(
        &p.app,
        &p.alice,
        "posts",
        json!({"title": "by alice", "author": p.alice_id}),
    )
    .await;
    create(
        &p.app,
        &p.bob,
        "posts",
        json!({"title": "by bob", "author": p.bob_id}),
    )
    .await;
    let count = |filter: &str| format!("/api/v1/posts?count=true&filter={}", query(filter));
    // Public profile fields: anyone who may list the records.
    for token in [Some(p.bob.as_str()), None, Some(p.admin.as_str())] {
        let found = get_json(&p.app, token, &count("author.display_name = \"Alice\"")).await;
        assert_eq!(found["meta"]["page"]["total"], 1, "{found}");
        assert_eq!(found["data"][0]["title"], "by alice");
        let found = get_json(&p.app, token, &count("author.karma > 40")).await;
        assert_eq!(found["meta"]["page"]["total"], 1, "{found}");
        let found = get_json(&p.app, token, &count("author.display_name ~ \"ali%\"")).await;
        assert_eq!(found["meta"]["page"]["total"], 1, "{found}");
        let found = get_json(&p.app, token, &count("author.display_name = null")).await;
        assert_eq!(found["data"][0]["title"], "by bob", "{found}");
    }
    // The email and hidden profile fields: administrators only, so nobody else can guess them
    // one filter at a time.
    for field in [
        "author.email = \"alice@example.test\"",
        "author.phone = \"555-0100\"",
    ] {
        for token in [Some(p.bob.as_str()), Some(p.alice.as_str()), None] {
            assert_problem(
                send_as(&p.app, "GET", &count(field), token, None).await,
                400,
                "invalid_query",
            )
            .await;
        }
        let found = get_json(&p.app, Some(&p.admin), &count(field)).await;
        assert_eq!(found["meta"]["page"]["total"], 1, "{found}");
    }
    // Sorting through it follows the same rule.
    assert_problem(
        send_as(
            &p.app,
            "GET",
            "/api/v1/posts?sort=author.email",
            Some(&p.bob),
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    // The password hash is no field at all.
    assert_problem(
        send_as(
            &p.app,
            "GET",
            &count("author.password_hash != null"),
            Some(&p.admin),
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn a_tenant_scoped_record_points_only_at_accounts_of_its_tenant() {
    let p = people(SCHEMA).await;
    let (acme_id, acme) =
        mint_member(&p.app.store, &p.app.auth, "a@acme.test", &[], Some("acme")).await;
    let (globex_id, _) = mint_member(
        &p.app.store,
        &p.app.auth,
        "g@globex.test",
        &[],
        Some("globex"),
    )
    .await;
    let invoice = create(
        &p.app,
        &acme,
        "invoices",
        json!({"amount": 5, "customer": acme_id.to_string()}),
    )
    .await;
    assert_eq!(invoice["tenant"], "acme");
    // Another tenant's account answers as if it did not exist; so does one in no tenant.
    for other in [globex_id.to_string(), p.bob_id.clone()] {
        let refused = assert_problem(
            send_as(
                &p.app,
                "POST",
                "/api/v1/invoices",
                Some(&acme),
                Some(json!({"amount": 1, "customer": other})),
            )
            .await,
            409,
            "relation_violation",
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], "customer");
        let batch = json!({"operations": [
            {"op": "create", "collection": "invoices", "body": {"amount": 1, "customer": other}}
        ]});
        assert_problem(
            send_as(&p.app, "POST", "/api/v1/batch", Some(&acme), Some(batch)).await,
            409,
            "relation_violation",
        )
        .await;
        let path = format!("/api/v1/invoices/{}", invoice["id"].as_str().unwrap());
        assert_problem(
            send_as(
                &p.app,
                "PATCH",
                &path,
                Some(&p.admin),
                Some(json!({"customer": other})),
            )
            .await,
            409,
            "relation_violation",
        )
        .await;
    }
    // An administrator naming the tenant is held to it as well.
    assert_problem(
        send_as(
            &p.app,
            "POST",
            "/api/v1/invoices",
            Some(&p.admin),
            Some(json!({"amount": 1, "tenant": "globex", "customer": acme_id.to_string()})),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    create(
        &p.app,
        &p.admin,
        "invoices",
        json!({"amount": 1, "tenant": "globex", "customer": globex_id.to_string()}),
    )
    .await;
}
