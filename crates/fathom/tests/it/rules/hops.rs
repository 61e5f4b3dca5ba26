//! Filters through relations obey the target's rules: a hop reaches only the records the
//! caller may list there (others read as null, as they do when expanded), so no `count`, page
//! order or cursor tells a caller anything about records that answer 404 to them. Two-hop paths,
//! targets whose own rule follows a relation, and targets for administrators only included;
//! administrators and API keys reach every record.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_with_status, mint_user, send_as, spawn_app};
use crate::query::support::encode;

const SCHEMA: &str = r#"
[collections.orgs]
fields.name = { type = "text", required = true }

[collections.projects]
rules = { list = "owner = auth.id", view = "owner = auth.id" }
fields.owner  = { type = "uuid", required = true }
fields.name   = { type = "text", required = true }
fields.org    = { type = "relation", collection = "orgs" }
fields.budget = { type = "integer", hidden = true }

[collections.milestones]
rules = { list = "project.owner = auth.id", view = "project.owner = auth.id" }
fields.name    = { type = "text", required = true }
fields.project = { type = "relation", collection = "projects", required = true }

[collections.tasks]
rules = { list = true, view = true }
fields.title     = { type = "text", required = true }
fields.project   = { type = "relation", collection = "projects" }
fields.milestone = { type = "relation", collection = "milestones" }

[collections.comments]
rules = { list = true, view = true }
fields.text = { type = "text", required = true }
fields.task = { type = "relation", collection = "tasks", required = true }
"#;

fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("id").to_owned()
}

fn ids(page: &Value) -> BTreeSet<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id_of)
        .collect()
}

/// The list of `collection` filtered by `filter` (with `extra` parameters), as `token` sees it.
async fn list(
    app: &TestApp,
    token: Option<&str>,
    collection: &str,
    filter: &str,
    extra: &str,
) -> Value {
    let path = format!(
        "/api/v1/{collection}?filter={}&count=true{extra}",
        encode(filter)
    );
    json_with_status(send_as(app, "GET", &path, token, None).await, 200).await
}

/// Every record of a filtered list, paged one at a time through cursors.
async fn paged(
    app: &TestApp,
    token: Option<&str>,
    collection: &str,
    filter: &str,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut extra = "&limit=1&sort=-title".to_owned();
    loop {
        let page = list(app, token, collection, filter, &extra).await;
        seen.extend(ids(&page));
        match page["meta"]["page"]["next"].as_str() {
            Some(next) => extra = format!("&limit=1&sort=-title&cursor={next}"),
            None => return seen,
        }
    }
}

fn total(page: &Value) -> u64 {
    page["meta"]["page"]["total"].as_u64().expect("total")
}

#[tokio::test]
async fn a_relation_hop_reaches_only_what_the_caller_may_list_there() {
    let app = spawn_app(SCHEMA).await;
    let (alice_id, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (bob_id, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let secret_org = id_of(&app.create("orgs", &json!({"name": "Secret org"})).await);
    let project = |owner: uuid::Uuid, name: &str| json!({"owner": owner.to_string(), "name": name, "org": secret_org, "budget": 7});
    let apollo = id_of(&app.create("projects", &project(alice_id, "Apollo")).await);
    let alpha = id_of(
        &app.create("projects", &project(bob_id, "Alpha secret"))
            .await,
    );
    let milestone = |name: &str, project: &str| json!({"name": name, "project": project});
    let alices_milestone = id_of(
        &app.create("milestones", &milestone("M1 launch", &apollo))
            .await,
    );
    let bobs_milestone = id_of(
        &app.create("milestones", &milestone("M9 merger", &alpha))
            .await,
    );
    let mut alices_tasks = BTreeSet::new();
    let mut bobs_tasks = BTreeSet::new();
    let mut comments = Vec::new();
    for n in 0..5 {
        let (project, milestone, set) = if n < 2 {
            (&apollo, &alices_milestone, &mut alices_tasks)
        } else {
            (&alpha, &bobs_milestone, &mut bobs_tasks)
        };
        let task =
            json!({"title": format!("task {n}"), "project": project, "milestone": milestone});
        let task = id_of(&app.create("tasks", &task).await);
        comments.push(id_of(
            &app.create("comments", &json!({"text": "c", "task": task}))
                .await,
        ));
        set.insert(task);
    }
    let bobs_comments: BTreeSet<String> = comments[2..].iter().cloned().collect();

    // The oracle: bob's project name, counted, listed, ordered and paged by alice.
    let oracle = r#"project.name ~ "Alp%""#;
    let seen = list(&app, Some(&alice), "tasks", oracle, "").await;
    assert_eq!((total(&seen), ids(&seen)), (0, BTreeSet::new()), "{seen}");
    let sorted = list(&app, Some(&alice), "tasks", oracle, "&sort=-title").await;
    assert_eq!(total(&sorted), 0);
    assert_eq!(
        paged(&app, Some(&alice), "tasks", r#"project.name != "x""#).await,
        alices_tasks
    );
    assert_eq!(
        paged(&app, Some(&alice), "tasks", r#"project.name >= "B""#).await,
        BTreeSet::new()
    );
    // Outside the caller's reach a related record reads as null, as its expansion shows.
    let nulls = list(
        &app,
        Some(&alice),
        "tasks",
        "project.name = null",
        "&expand=project",
    )
    .await;
    assert_eq!(ids(&nulls), bobs_tasks);
    assert!(
        nulls["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["expand"]["project"].is_null())
    );
    // The owner sees it; an anonymous caller, who may list tasks but no project, does not.
    let his = list(&app, Some(&bob), "tasks", oracle, "").await;
    assert_eq!((total(&his), ids(&his)), (3, bobs_tasks.clone()));
    assert_eq!(total(&list(&app, None, "tasks", oracle, "").await), 0);

    // Two hops: comments → task (public) → project (owner only).
    let two = r#"task.project.name ~ "Alp%""#;
    assert_eq!(
        total(&list(&app, Some(&alice), "comments", two, "").await),
        0
    );
    assert_eq!(
        ids(&list(&app, Some(&bob), "comments", two, "").await),
        bobs_comments
    );
    // A target whose own rule follows a relation (milestones: project.owner = auth.id).
    let via_rule = r#"milestone.name ~ "M9%""#;
    assert_eq!(
        total(&list(&app, Some(&alice), "tasks", via_rule, "").await),
        0
    );
    assert_eq!(
        ids(&list(&app, Some(&bob), "tasks", via_rule, "").await),
        bobs_tasks
    );
    assert_eq!(
        ids(&list(&app, Some(&alice), "tasks", r#"milestone.name ~ "M1%""#, "").await),
        alices_tasks
    );
    // A target without a list rule is for administrators only, even behind one's own project.
    let org = r#"project.org.name ~ "Secret%""#;
    assert_eq!(total(&list(&app, Some(&alice), "tasks", org, "").await), 0);
    assert_eq!(total(&list(&app, Some(&bob), "tasks", org, "").await), 0);
    // Hidden fields stay refused through a hop, and sorting follows no relation.
    for (parameter, query) in [
        ("filter", "filter=project.budget%20%3E%200"),
        ("sort", "sort=project.name"),
    ] {
        let path = format!("/api/v1/tasks?{query}");
        let refused = assert_problem(
            send_as(&app, "GET", &path, Some(&bob), None).await,
            400,
            "invalid_query",
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], parameter);
    }

    // Administrators and API keys reach every record, as before.
    let everyone = list(&app, Some(&app.admin_token), "tasks", oracle, "").await;
    assert_eq!(ids(&everyone), bobs_tasks);
    assert_eq!(
        total(&list(&app, Some(&app.admin_token), "tasks", org, "").await),
        5
    );
    let key = json_with_status(
        app.post_json(
            "/api/v1/admin/api-keys",
            &json!({"name": "reports", "scopes": ["tasks:list"]}),
        )
        .await,
        201,
    )
    .await;
    let key = key["data"]["key"].as_str().expect("key").to_owned();
    assert_eq!(
        ids(&list(&app, Some(&key), "tasks", oracle, "").await),
        bobs_tasks
    );
    app.stop().await;
}

const TENANTS: &str = r#"
[collections.accounts]
tenant_scoped = true
rules = { list = true, view = true }
fields.name = { type = "text", required = true }

[collections.deals]
tenant_scoped = true
rules = { list = true, view = true }
fields.title   = { type = "text", required = true }
fields.account = { type = "relation", collection = "accounts" }
"#;

/// The API keeps relations inside a tenant; should a row ever point across (written by other
/// means), a caller's hop still reaches only the caller's tenant. (PostgreSQL's row-level
/// security hides the other tenant's row as well; SQLite relies on this alone.)
#[tokio::test]
async fn a_relation_hop_stays_inside_the_callers_tenant() {
    use fathom_schema::Value as Typed;
    use fathom_store::{Scope, UnitOfWork, WriteOp};

    let app = spawn_app(TENANTS).await;
    let (_, member) =
        crate::helpers::mint_member(&app.store, &app.auth, "a@example.com", &["user"], Some("a"))
            .await;
    let secret = app
        .create("accounts", &json!({"name": "Secret merger", "tenant": "b"}))
        .await;
    let deals = app.schema.collection("deals").expect("deals").clone();
    let values = vec![
        ("title".to_owned(), Typed::Text("crossed".into())),
        ("account".to_owned(), Typed::Text(id_of(&secret))),
    ];
    let create = WriteOp::Create {
        id: None,
        collection: deals,
        values,
        tenant: None,
    };
    app.store
        .execute(UnitOfWork::single(Scope::Tenant("a".into()), create))
        .await
        .expect("written past the API's checks");
    let oracle = r#"account.name ~ "Secret%""#;
    assert_eq!(
        total(&list(&app, Some(&member), "deals", oracle, "").await),
        0
    );
    assert_eq!(
        total(&list(&app, Some(&member), "deals", "account.name = null", "").await),
        1
    );
    app.stop().await;
}
