//! Update rules hold for the record after the change as well as before it: a caller may not
//! give a record away or move it out of the rule (403 `rule_violation`, nothing written), over
//! PATCH and in a batch. A record the caller may not update still answers 404. A refusal of a
//! caller without credentials is 401, whichever rule refused (create rules included).

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, json_with_status, mint_user, send_as, spawn_app};

const SCHEMA: &str = r#"
[collections.projects]
rules = { list = "owner = auth.id", view = "owner = auth.id", update = "owner = auth.id" }
fields.owner = { type = "uuid", required = true }
fields.name  = { type = "text", required = true }

[collections.tasks]
rules.list   = "owner = auth.id"
rules.view   = "owner = auth.id"
rules.create = "owner = auth.id"
rules.update = "owner = auth.id && project.owner = auth.id"
fields.owner   = { type = "uuid", required = true }
fields.project = { type = "relation", collection = "projects", required = true }
fields.title   = { type = "text", required = true }

[collections.guestbook]
rules = { list = true, view = true, create = 'name != "admin"', update = "locked = false" }
fields.name   = { type = "text", required = true }
fields.locked = { type = "boolean", default = false }
"#;

/// The record as the administrator sees it.
async fn stored(app: &TestApp, collection: &str, id: &str) -> Value {
    json_with_status(app.get(&format!("/api/v1/{collection}/{id}")).await, 200).await["data"]
        .clone()
}

fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("id").to_owned()
}

fn update(collection: &str, id: &str, body: Value) -> Value {
    json!({"op": "update", "collection": collection, "id": id, "body": body})
}

#[tokio::test]
async fn an_update_cannot_move_a_record_out_of_its_update_rule() {
    let app = spawn_app(SCHEMA).await;
    let (alice_id, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (bob_id, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let project = |owner: uuid::Uuid, name: &str| json!({"owner": owner.to_string(), "name": name});
    let alices = id_of(&app.create("projects", &project(alice_id, "Mine")).await);
    let alices_other = id_of(
        &app.create("projects", &project(alice_id, "Also mine"))
            .await,
    );
    let bobs = id_of(&app.create("projects", &project(bob_id, "His")).await);
    let task =
        |title: &str| json!({"owner": alice_id.to_string(), "project": alices, "title": title});
    let target = id_of(&app.create("tasks", &task("target")).await);
    let bystander = id_of(&app.create("tasks", &task("bystander")).await);
    let bobs_task = json!({"owner": bob_id.to_string(), "project": bobs, "title": "bystander"});
    let bobs_task = id_of(&app.create("tasks", &bobs_task).await);
    let (alice_id, bob_id) = (alice_id.to_string(), bob_id.to_string());

    // (who, patch, expected status, expected code): every way the fields a rule depends on can
    // be tampered with, directly or through a relation the rule follows.
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "alice",
            "gives it away",
            json!({"owner": bob_id}),
            403,
            "rule_violation",
        ),
        (
            "alice",
            "moves it into bob's project",
            json!({"project": bobs}),
            403,
            "rule_violation",
        ),
        (
            "alice",
            "gives it away with its project",
            json!({"owner": bob_id, "project": bobs}),
            403,
            "rule_violation",
        ),
        (
            "bob",
            "takes it over",
            json!({"owner": bob_id}),
            404,
            "record_not_found",
        ),
        (
            "bob",
            "takes it into his project",
            json!({"project": bobs}),
            404,
            "record_not_found",
        ),
        (
            "anonymous",
            "edits it",
            json!({"title": "x"}),
            404,
            "record_not_found",
        ),
    ];
    for (who, what, patch, status, code) in &cases {
        // Each caller's batch first changes a record the caller may change (none, anonymous).
        let (token, own) = match *who {
            "alice" => (Some(alice.as_str()), Some(&bystander)),
            "bob" => (Some(bob.as_str()), Some(&bobs_task)),
            _ => (None, None),
        };
        let before = stored(&app, "tasks", &target).await;
        let path = format!("/api/v1/tasks/{target}");
        let refused = assert_problem(
            send_as(&app, "PATCH", &path, token, Some(patch.clone())).await,
            *status,
            code,
        )
        .await;
        if *status == 403 {
            assert!(
                refused["detail"]
                    .as_str()
                    .unwrap()
                    .contains("update rule of `tasks`"),
                "{who} {what}: {refused}"
            );
        }
        // In a batch, after a harmless change that must be rolled back with it.
        let mut operations: Vec<Value> = own
            .map(|id| update("tasks", id, json!({"title": "touched"})))
            .into_iter()
            .collect();
        operations.push(update("tasks", &target, patch.clone()));
        let failing = format!("operations[{}]", operations.len() - 1);
        let batch = json!({ "operations": operations });
        let refused = assert_problem(
            send_as(&app, "POST", "/api/v1/batch", token, Some(batch)).await,
            *status,
            code,
        )
        .await;
        assert_eq!(
            refused["errors"][0]["field"], failing,
            "{who} {what} in a batch"
        );
        assert_eq!(
            stored(&app, "tasks", &target).await,
            before,
            "{who} {what}: nothing was written"
        );
        for id in [&bystander, &bobs_task] {
            assert_eq!(stored(&app, "tasks", id).await["title"], "bystander");
        }
    }

    // What stays inside the rule is allowed, alone and in a batch.
    let path = format!("/api/v1/tasks/{target}");
    let moved = json_with_status(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&alice),
            Some(json!({"project": alices_other, "owner": alice_id})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["data"]["project"], alices_other.as_str());
    let batch = json!({"operations": [
        update("tasks", &bystander, json!({"title": "touched"})),
        update("tasks", &target, json!({"title": "renamed"})),
    ]});
    json_with_status(
        send_as(&app, "POST", "/api/v1/batch", Some(&alice), Some(batch)).await,
        200,
    )
    .await;
    assert_eq!(stored(&app, "tasks", &target).await["title"], "renamed");
    // An administrator is not bound by rules.
    json_with_status(
        app.patch_json(&path, &json!({"owner": bob_id, "project": bobs}))
            .await,
        200,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_refusal_without_credentials_is_401_for_creates_and_changes_alike() {
    let app = spawn_app(SCHEMA).await;
    let (_, user) = mint_user(&app.store, &app.auth, "user@example.com", &["user"]).await;
    let create = |name: &str| Some(json!({"name": name}));

    // A create rule that refuses the record: 401 without credentials, 403 with them.
    let refused = assert_problem(
        send_as(&app, "POST", "/api/v1/guestbook", None, create("admin")).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(refused["detail"].as_str().unwrap().contains("Signing in"));
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/guestbook",
            Some(&user),
            create("admin"),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let batch = json!({"operations": [{"op": "create", "collection": "guestbook", "body": {"name": "admin"}}]});
    let refused = assert_problem(
        send_as(&app, "POST", "/api/v1/batch", None, Some(batch)).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "operations[0]");
    // The 401 says how to authenticate.
    let response = send_as(&app, "POST", "/api/v1/guestbook", None, create("admin")).await;
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"fathom\""
    );
    // A record the rule allows is created by anyone.
    let entry = json_with_status(
        send_as(&app, "POST", "/api/v1/guestbook", None, create("ann")).await,
        201,
    )
    .await;
    let id = id_of(&entry["data"]);
    let path = format!("/api/v1/guestbook/{id}");

    // An update the rule allows before the change but not after: 401 without credentials,
    // 403 `rule_violation` with them; over PATCH and in a batch.
    let lock = json!({"locked": true});
    assert_problem(
        send_as(&app, "PATCH", &path, None, Some(lock.clone())).await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        send_as(&app, "PATCH", &path, Some(&user), Some(lock.clone())).await,
        403,
        "rule_violation",
    )
    .await;
    let batch = json!({"operations": [update("guestbook", &id, lock.clone())]});
    let refused = assert_problem(
        send_as(&app, "POST", "/api/v1/batch", None, Some(batch.clone())).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "operations[0]");
    assert_problem(
        send_as(&app, "POST", "/api/v1/batch", Some(&user), Some(batch)).await,
        403,
        "rule_violation",
    )
    .await;
    assert_eq!(stored(&app, "guestbook", &id).await["locked"], false);
    json_with_status(
        send_as(&app, "PATCH", &path, None, Some(json!({"name": "Ann"}))).await,
        200,
    )
    .await;
    app.stop().await;
}
