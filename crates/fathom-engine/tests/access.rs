//! The rules and tenancy matrices of the HTTP suites (`crates/fathom/tests/it/tenancy.rs`,
//! `rules/`, `access_matrix.rs`), run against the engine directly: who may and may not get,
//! list, count, filter through a relation, see hidden fields, write and batch, across tenants.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod support;

use std::collections::BTreeSet;

use fathom_engine::access::visible_json;
use fathom_engine::{EngineError, Listing, Planned, Principal, WriteOptions};
use fathom_query::{Filter, default_sort};
use fathom_store::{Deleted, Scope, WriteOp};
use serde_json::json;
use support::{World, admin, object, user};
use uuid::Uuid;

const SCHEMA: &str = r#"
[collections.projects]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null", update = "auth.id != null", delete = "auth.id != null" }
fields.name = { type = "text", required = true }

[collections.tasks]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null", update = "auth.id != null", delete = "auth.id != null" }
fields.title   = { type = "text", required = true }
fields.project = { type = "relation", collection = "projects" }
fields.secret  = { type = "text", hidden = true }

[collections.notes]
rules = { list = "owner = auth.id", view = "owner = auth.id", create = "owner = auth.id", update = "owner = auth.id", delete = "owner = auth.id" }
fields.owner = { type = "uuid", required = true }
fields.body  = { type = "text" }

[collections.labels]
rules = { list = true, view = true }
fields.name = { type = "text", required = true }
"#;

struct Matrix {
    world: World,
    acme: Principal,
    globex: Principal,
    loner: Principal,
    /// acme's project and task, globex's project and task.
    acme_project: Uuid,
    acme_task: Uuid,
    globex_project: Uuid,
    globex_task: Uuid,
}

async fn matrix() -> Matrix {
    let world = World::new("matrix", SCHEMA, Default::default()).await;
    let acme = user(Some("acme"));
    let globex = user(Some("globex"));
    let loner = user(None);
    let acme_project = world
        .create(&acme, "projects", json!({"name": "Rocket"}))
        .await
        .unwrap()
        .id;
    let acme_task = world
        .create(
            &acme,
            "tasks",
            json!({"title": "Launch", "project": acme_project.to_string(), "secret": "s1"}),
        )
        .await
        .unwrap()
        .id;
    let globex_project = world
        .create(&globex, "projects", json!({"name": "Doomsday"}))
        .await
        .unwrap()
        .id;
    let globex_task = world
        .create(
            &globex,
            "tasks",
            json!({"title": "Plot", "project": globex_project.to_string()}),
        )
        .await
        .unwrap()
        .id;
    Matrix {
        world,
        acme,
        globex,
        loner,
        acme_project,
        acme_task,
        globex_project,
        globex_task,
    }
}

fn filter(world: &World, principal: &Principal, collection: &str, text: &str) -> Filter {
    let schema = world.engine.schema();
    let collection = schema.collection(collection).unwrap();
    let expr = fathom_query::parse(text).unwrap();
    fathom_query::check(&expr, text, schema, collection, &principal.env(None)).unwrap()
}

async fn ids(
    world: &World,
    principal: &Principal,
    collection: &str,
    filter: Option<Filter>,
) -> BTreeSet<Uuid> {
    let target = world.engine.collection(collection).unwrap();
    let page = world
        .engine
        .list(
            principal,
            &target,
            Listing {
                filter,
                sort: &default_sort(),
                after: None,
                limit: 100,
                offset: 0,
                deleted: Deleted::Hidden,
                count: true,
                expand: &[],
            },
        )
        .await
        .unwrap();
    let listed: BTreeSet<Uuid> = page.records.iter().map(|r| r.id).collect();
    assert_eq!(
        page.total,
        Some(listed.len() as u64),
        "count agrees with the page"
    );
    listed
}

async fn get(world: &World, principal: &Principal, collection: &str, id: Uuid) -> bool {
    let target = world.engine.collection(collection).unwrap();
    world
        .engine
        .get(principal, &target, id)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn gets_lists_and_counts_stay_inside_the_callers_tenant() {
    let m = matrix().await;
    let w = &m.world;
    // Who sees which task by id.
    let cases = [
        (&m.acme, m.acme_task, true),
        (&m.acme, m.globex_task, false),
        (&m.globex, m.globex_task, true),
        (&m.globex, m.acme_task, false),
        (&m.loner, m.acme_task, false),
        (&Principal::Anonymous, m.acme_task, false),
    ];
    for (principal, task, seen) in cases {
        assert_eq!(get(w, principal, "tasks", task).await, seen);
    }
    assert!(get(w, &admin(), "tasks", m.acme_task).await);
    assert!(get(w, &admin(), "tasks", m.globex_task).await);
    // Lists and counts.
    assert_eq!(
        ids(w, &m.acme, "tasks", None).await,
        BTreeSet::from([m.acme_task])
    );
    assert_eq!(
        ids(w, &m.globex, "tasks", None).await,
        BTreeSet::from([m.globex_task])
    );
    assert!(ids(w, &m.loner, "tasks", None).await.is_empty());
    assert!(
        ids(w, &Principal::Anonymous, "tasks", None)
            .await
            .is_empty()
    );
    assert_eq!(
        ids(w, &admin(), "tasks", None).await,
        BTreeSet::from([m.acme_task, m.globex_task])
    );
    let projects = w.engine.collection("projects").unwrap();
    assert_eq!(w.engine.count(&m.acme, &projects, None).await.unwrap(), 1);
    assert_eq!(w.engine.count(&admin(), &projects, None).await.unwrap(), 2);
}

#[tokio::test]
async fn a_filter_through_a_relation_reaches_only_the_callers_tenant() {
    let m = matrix().await;
    let w = &m.world;
    let by_name =
        |p: &Principal, name: &str| filter(w, p, "tasks", &format!("project.name = \"{name}\""));
    assert_eq!(
        ids(w, &m.acme, "tasks", Some(by_name(&m.acme, "Rocket"))).await,
        BTreeSet::from([m.acme_task])
    );
    // globex's project is not reachable from acme: nothing matches, nothing is told.
    assert!(
        ids(w, &m.acme, "tasks", Some(by_name(&m.acme, "Doomsday")))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(w, &admin(), "tasks", Some(by_name(&admin(), "Doomsday"))).await,
        BTreeSet::from([m.globex_task])
    );
    let _ = (m.acme_project, m.globex_project);
}

#[tokio::test]
async fn owner_rules_decide_reads_and_writes_and_hidden_fields_are_for_administrators() {
    let m = matrix().await;
    let w = &m.world;
    let owner = |p: &Principal| match p {
        Principal::User(c) => c.claims.sub.clone(),
        _ => unreachable!(),
    };
    let mine = w
        .create(
            &m.loner,
            "notes",
            json!({"owner": owner(&m.loner), "body": "mine"}),
        )
        .await
        .unwrap();
    // Another user may not create a note in someone else's name.
    let refused = w
        .create(&m.acme, "notes", json!({"owner": owner(&m.loner)}))
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "forbidden");
    let refused = w
        .create(
            &Principal::Anonymous,
            "notes",
            json!({"owner": Uuid::now_v7().to_string()}),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "unauthorized");
    assert!(get(w, &m.loner, "notes", mine.id).await);
    assert!(!get(w, &m.acme, "notes", mine.id).await);
    assert_eq!(
        ids(w, &m.loner, "notes", None).await,
        BTreeSet::from([mine.id])
    );
    assert!(ids(w, &m.acme, "notes", None).await.is_empty());
    // Writes to a record the caller may not see are not found, as if it did not exist.
    let refused: EngineError = w
        .update(&m.acme, "notes", mine.id, json!({"body": "theirs"}))
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "record_not_found");
    let refused = w.delete(&m.globex, "tasks", m.acme_task).await.unwrap_err();
    assert_eq!(refused.code.as_str(), "record_not_found");
    // Hidden fields.
    let task = w.stored("tasks", m.acme_task).await.unwrap();
    let tasks = w.engine.collection("tasks").unwrap();
    assert!(visible_json(&tasks, &m.acme, &task).get("secret").is_none());
    assert_eq!(visible_json(&tasks, &admin(), &task)["secret"], "s1");
    // Collections without a write rule are the administrators'.
    let refused = w
        .create(&m.acme, "labels", json!({"name": "urgent"}))
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "forbidden");
    w.create(&admin(), "labels", json!({"name": "urgent"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_batch_cannot_reach_into_another_tenant() {
    let m = matrix().await;
    let w = &m.world;
    let tasks = w.engine.collection("tasks").unwrap();
    let create = |title: &str, project: Uuid| {
        let body = object(json!({"title": title, "project": project.to_string()}));
        let mut planned = w.engine.plan_create(&m.acme, &tasks, &body).unwrap();
        if let WriteOp::Create { id, .. } = &mut planned.op {
            *id = Some(Uuid::now_v7());
        }
        planned
    };
    // A relation into globex's project is refused before anything is written.
    let planned = create("Sneak", m.globex_project);
    let WriteOp::Create { values, .. } = &planned.op else {
        unreachable!()
    };
    let refused = w
        .engine
        .check_relation_tenants(&tasks, planned.scope(), None, values)
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "relation_violation");
    // An update of globex's task in the batch: the whole batch is not found, nothing written.
    let before = w.count("tasks").await;
    let update = w
        .engine
        .plan_update(
            &m.acme,
            &tasks,
            m.globex_task,
            &object(json!({"title": "Mine now"})),
            None,
        )
        .unwrap();
    let ours = create("Fine", m.acme_project);
    let outcome = w
        .engine
        .write(
            &m.acme,
            m.acme.scope(),
            vec![
                Planned::new(ours.op, None, Scope::Tenant("acme".into())),
                update,
            ],
            WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(outcome.code.as_str(), "record_not_found");
    assert_eq!(outcome.operation, Some(1));
    assert_eq!(w.count("tasks").await, before);
    let globex_task = w.stored("tasks", m.globex_task).await.unwrap();
    assert_eq!(support::value(&globex_task, "title"), json!("Plot"));
}
