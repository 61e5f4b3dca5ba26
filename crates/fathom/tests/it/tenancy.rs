//! Multi-tenancy: in a `tenant_scoped` collection the tenant comes from the caller's token, every
//! read and write is confined to it by the store, another tenant's ids answer 404, unique values
//! are unique per tenant, and relations cannot reach into another tenant.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, cached, json_with_status, mint_member, send_as, spawn_app,
};

const SCHEMA: &str = r#"
[collections.projects]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null", update = "auth.id != null", delete = "auth.id != null" }
fields.name = { type = "text", required = true, unique = true }

[collections.tasks]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null", update = "auth.id != null", delete = "auth.id != null" }
fields.title   = { type = "text", required = true }
fields.project = { type = "relation", collection = "projects" }
fields.label   = { type = "relation", collection = "labels" }

[collections.labels]
rules = { list = true, view = true }
fields.name = { type = "text", required = true }
"#;

struct Tenants {
    app: TestApp,
    /// Members of tenant `acme` and `globex`, and a user in no tenant.
    acme: String,
    globex: String,
    loner: String,
}

async fn tenants() -> Tenants {
    tenants_on(SCHEMA).await
}

async fn tenants_on(schema: &str) -> Tenants {
    let app = spawn_app(schema).await;
    let (_, acme) = mint_member(&app.store, &app.auth, "a@acme.test", &[], Some("acme")).await;
    let (_, globex) =
        mint_member(&app.store, &app.auth, "g@globex.test", &[], Some("globex")).await;
    let (_, loner) = mint_member(&app.store, &app.auth, "l@none.test", &[], None).await;
    Tenants {
        app,
        acme,
        globex,
        loner,
    }
}

async fn create_as(app: &TestApp, token: &str, collection: &str, body: Value) -> Value {
    let path = format!("/api/v1/{collection}");
    json_with_status(
        send_as(app, "POST", &path, Some(token), Some(body)).await,
        201,
    )
    .await["data"]
        .clone()
}

fn id(record: &Value) -> &str {
    record["id"].as_str().expect("id")
}

#[tokio::test]
async fn a_new_record_takes_the_tenant_of_the_callers_token() {
    let t = tenants().await;
    let project = create_as(&t.app, &t.acme, "projects", json!({"name": "Rocket"})).await;
    assert_eq!(project["tenant"], "acme");
    // Naming a tenant is mass assignment for anyone but an administrator.
    let body = json!({"name": "Sneaky", "tenant": "globex"});
    let refused = assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/projects",
            Some(&t.acme),
            Some(body),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "tenant");
    let patch = json!({"tenant": "globex"});
    let path = format!("/api/v1/projects/{}", id(&project));
    assert_problem(
        send_as(&t.app, "PATCH", &path, Some(&t.acme), Some(patch)).await,
        400,
        "validation_failed",
    )
    .await;
    // A user in no tenant can create nothing here, and sees nothing.
    assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/projects",
            Some(&t.loner),
            Some(json!({"name": "Orphan"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let seen = json_with_status(
        send_as(
            &t.app,
            "GET",
            "/api/v1/projects?count=true",
            Some(&t.loner),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seen["meta"]["page"]["total"], 0);
    t.app.stop().await;
}

#[tokio::test]
async fn another_tenants_records_are_invisible_and_untouchable() {
    isolation(tenants().await).await;
}

/// The same, with both collections' answers cached: the reads that found nothing must not be
/// served to the tenant that owns the record, nor the owner's to the others.
#[tokio::test]
async fn another_tenants_records_are_invisible_and_untouchable_with_the_cache_on() {
    let t = tenants_on(&cached(SCHEMA)).await;
    // Answers cached before the records exist must give way to them.
    for token in [&t.acme, &t.globex] {
        let empty = json_with_status(
            send_as(
                &t.app,
                "GET",
                "/api/v1/projects?count=true",
                Some(token),
                None,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(empty["meta"]["page"]["total"], 0);
    }
    isolation(t).await;
}

async fn isolation(t: Tenants) {
    let theirs = create_as(&t.app, &t.acme, "projects", json!({"name": "Rocket"})).await;
    let ours = create_as(&t.app, &t.globex, "projects", json!({"name": "Satellite"})).await;
    let path = format!("/api/v1/projects/{}", id(&theirs));

    let listed = json_with_status(
        send_as(
            &t.app,
            "GET",
            "/api/v1/projects?count=true",
            Some(&t.globex),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["meta"]["page"]["total"], 1);
    assert_eq!(listed["data"][0]["id"], ours["id"]);
    // Filtering on the tenant, or on another tenant's id, finds nothing either.
    for filter in [
        "tenant%20%3D%20%22acme%22".to_owned(),
        format!("id%20%3D%20%22{}%22", id(&theirs)),
    ] {
        let found = json_with_status(
            send_as(
                &t.app,
                "GET",
                &format!("/api/v1/projects?filter={filter}&count=true"),
                Some(&t.globex),
                None,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(found["meta"]["page"]["total"], 0, "{filter}");
    }
    let ids = format!("/api/v1/projects?ids={}", id(&theirs));
    let by_ids = json_with_status(
        send_as(&t.app, "GET", &ids, Some(&t.globex), None).await,
        200,
    )
    .await;
    assert_eq!(by_ids["data"], json!([]));

    assert_problem(
        send_as(&t.app, "GET", &path, Some(&t.globex), None).await,
        404,
        "record_not_found",
    )
    .await;
    assert_problem(
        send_as(
            &t.app,
            "PATCH",
            &path,
            Some(&t.globex),
            Some(json!({"name": "Mine now"})),
        )
        .await,
        404,
        "record_not_found",
    )
    .await;
    assert_problem(
        send_as(&t.app, "DELETE", &path, Some(&t.globex), None).await,
        404,
        "record_not_found",
    )
    .await;
    let batch = json!({"operations": [
        {"op": "update", "collection": "projects", "id": id(&theirs), "body": {"name": "x"}}
    ]});
    assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/batch",
            Some(&t.globex),
            Some(batch),
        )
        .await,
        404,
        "record_not_found",
    )
    .await;

    // The owner still has it, unchanged.
    let kept = json_with_status(
        send_as(&t.app, "GET", &path, Some(&t.acme), None).await,
        200,
    )
    .await;
    assert_eq!(kept["data"]["name"], "Rocket");
    assert_eq!(kept["data"]["version"], 1);
    t.app.stop().await;
}

#[tokio::test]
async fn unique_values_are_unique_within_a_tenant() {
    let t = tenants().await;
    create_as(&t.app, &t.acme, "projects", json!({"name": "Rocket"})).await;
    create_as(&t.app, &t.globex, "projects", json!({"name": "Rocket"})).await;
    assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/projects",
            Some(&t.acme),
            Some(json!({"name": "Rocket"})),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    t.app.stop().await;
}

#[tokio::test]
async fn relations_cannot_reach_into_another_tenant() {
    let t = tenants().await;
    let theirs = create_as(&t.app, &t.acme, "projects", json!({"name": "Rocket"})).await;
    let ours = create_as(&t.app, &t.globex, "projects", json!({"name": "Probe"})).await;
    let label = json_with_status(
        t.app
            .post_json("/api/v1/labels", &json!({"name": "urgent"}))
            .await,
        201,
    )
    .await["data"]
        .clone();

    let refused = assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/tasks",
            Some(&t.globex),
            Some(json!({"title": "Steal", "project": id(&theirs)})),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "project");
    // Shared collections are fine to point at; own-tenant records too.
    let task = create_as(
        &t.app,
        &t.globex,
        "tasks",
        json!({"title": "Launch", "project": id(&ours), "label": id(&label)}),
    )
    .await;
    let path = format!("/api/v1/tasks/{}", id(&task));
    assert_problem(
        send_as(
            &t.app,
            "PATCH",
            &path,
            Some(&t.globex),
            Some(json!({"project": id(&theirs)})),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    let batch = json!({"operations": [
        {"op": "create", "collection": "tasks", "body": {"title": "x", "project": id(&theirs)}}
    ]});
    assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/batch",
            Some(&t.globex),
            Some(batch),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    // An administrator moving a record's relation is held to the record's own tenant too.
    assert_problem(
        t.app
            .patch_json(&path, &json!({"project": id(&theirs)}))
            .await,
        409,
        "relation_violation",
    )
    .await;
    let expanded = json_with_status(
        send_as(
            &t.app,
            "GET",
            &format!("{path}?expand=project,label"),
            Some(&t.globex),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(expanded["data"]["expand"]["project"]["name"], "Probe");
    t.app.stop().await;
}

#[tokio::test]
async fn administrators_see_every_tenant_and_name_the_tenant_of_new_records() {
    let t = tenants().await;
    create_as(&t.app, &t.acme, "projects", json!({"name": "Rocket"})).await;
    create_as(&t.app, &t.globex, "projects", json!({"name": "Probe"})).await;
    let all = json_with_status(t.app.get("/api/v1/projects?count=true").await, 200).await;
    assert_eq!(all["meta"]["page"]["total"], 2);
    let by_tenant = json_with_status(
        t.app
            .get("/api/v1/projects?filter=tenant%20%3D%20%22globex%22&sort=tenant")
            .await,
        200,
    )
    .await;
    assert_eq!(by_tenant["data"][0]["name"], "Probe");

    let refused = assert_problem(
        t.app
            .post_json("/api/v1/projects", &json!({"name": "Nowhere"}))
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "tenant");
    for bad in [json!(""), json!(7), json!("x".repeat(129))] {
        assert_problem(
            t.app
                .post_json("/api/v1/projects", &json!({"name": "Bad", "tenant": bad}))
                .await,
            400,
            "validation_failed",
        )
        .await;
    }
    let placed = json_with_status(
        t.app
            .post_json(
                "/api/v1/projects",
                &json!({"name": "Gift", "tenant": "acme"}),
            )
            .await,
        201,
    )
    .await;
    assert_eq!(placed["data"]["tenant"], "acme");
    let seen = json_with_status(
        send_as(
            &t.app,
            "GET",
            "/api/v1/projects?count=true",
            Some(&t.acme),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(seen["meta"]["page"]["total"], 2);
    t.app.stop().await;
}

/// A relation to accounts in a tenant-scoped collection reaches only the accounts of the
/// record's tenant: another tenant's account answers as if it did not exist, in a create, a
/// patch and a batch (the full matrix of relations to accounts is `accounts/relations.rs`).
#[tokio::test]
async fn a_relation_to_accounts_stays_inside_the_tenant() {
    let schema = format!(
        "{SCHEMA}\n[collections.assignments]\ntenant_scoped = true\nrules = {{ list = \"auth.id != null\", view = \"auth.id != null\", create = \"auth.id != null\", update = \"auth.id != null\" }}\nfields.assignee = {{ type = \"relation\", collection = \"users\" }}\n"
    );
    let t = tenants_on(&schema).await;
    let me = |token: &str| {
        let app = &t.app;
        let token = token.to_owned();
        async move {
            json_with_status(
                send_as(app, "GET", "/api/v1/auth/me", Some(&token), None).await,
                200,
            )
            .await["data"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (acme_id, globex_id) = (me(&t.acme).await, me(&t.globex).await);
    let mine = create_as(&t.app, &t.acme, "assignments", json!({"assignee": acme_id})).await;
    assert_eq!(mine["tenant"], "acme");
    let theirs = json!({"assignee": globex_id});
    assert_problem(
        send_as(
            &t.app,
            "POST",
            "/api/v1/assignments",
            Some(&t.acme),
            Some(theirs.clone()),
        )
        .await,
        409,
        "relation_violation",
    )
    .await;
    let path = format!("/api/v1/assignments/{}", id(&mine));
    assert_problem(
        send_as(&t.app, "PATCH", &path, Some(&t.acme), Some(theirs.clone())).await,
        409,
        "relation_violation",
    )
    .await;
    let batch =
        json!({"operations": [{"op": "create", "collection": "assignments", "body": theirs}]});
    assert_problem(
        send_as(&t.app, "POST", "/api/v1/batch", Some(&t.acme), Some(batch)).await,
        409,
        "relation_violation",
    )
    .await;
    // Globex does not see Acme's record, through the relation or otherwise.
    let filter = format!("/api/v1/assignments?count=true&filter=assignee%20%3D%20%22{acme_id}%22");
    let seen = json_with_status(
        send_as(&t.app, "GET", &filter, Some(&t.globex), None).await,
        200,
    )
    .await;
    assert_eq!(seen["meta"]["page"]["total"], 0);
    let seen = json_with_status(
        send_as(&t.app, "GET", &filter, Some(&t.acme), None).await,
        200,
    )
    .await;
    assert_eq!(seen["meta"]["page"]["total"], 1);
}
