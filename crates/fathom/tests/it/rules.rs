//! Access rules: deny by default, row rules in the SQL WHERE (a caller never sees, counts or
//! touches another's rows: they answer 404), create rules on the incoming record, hidden fields
//! for administrators only, and a broken rule stops start-up.

mod changes;
mod hops;

use serde_json::json;

use crate::helpers::{
    assert_problem, json_with_status, mint_user, send_as, spawn_app, test_config,
};

const SCHEMA: &str = r#"
[collections.notes]
rules = { list = "owner = auth.id", view = "owner = auth.id", create = "owner = auth.id", update = "owner = auth.id", delete = "owner = auth.id" }
fields.owner  = { type = "uuid", required = true }
fields.body   = { type = "text", required = true }
fields.secret = { type = "text", hidden = true }

[collections.posts]
rules = { list = true, view = true }
fields.title = { type = "text", required = true }

[collections.vault]
fields.x = { type = "text" }
"#;

#[tokio::test]
async fn operations_without_a_rule_are_for_administrators_only() {
    let app = spawn_app(SCHEMA).await;
    let (_, user) = mint_user(&app.store, &app.auth, "user@example.com", &["user"]).await;
    assert_problem(
        send_as(&app, "GET", "/api/v1/vault", None, None).await,
        401,
        "unauthorized",
    )
    .await;
    // A rule that exists but cannot hold for an anonymous caller shows nothing, not an error.
    let none = json_with_status(send_as(&app, "GET", "/api/v1/notes", None, None).await, 200).await;
    assert_eq!(none["data"], json!([]));
    assert_problem(
        send_as(&app, "GET", "/api/v1/vault", Some(&user), None).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/vault",
            Some(&user),
            Some(json!({"x": "1"})),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/posts",
            None,
            Some(json!({"title": "t"})),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    // `true` rules are open to anyone; the administrator may do everything.
    json_with_status(send_as(&app, "GET", "/api/v1/posts", None, None).await, 200).await;
    json_with_status(
        app.post_json("/api/v1/vault", &json!({"x": "1"})).await,
        201,
    )
    .await;
    // A bad token is refused, never treated as anonymous.
    assert_problem(
        send_as(&app, "GET", "/api/v1/posts", Some("garbage"), None).await,
        401,
        "unauthorized",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn users_never_see_count_or_touch_each_others_rows() {
    let app = spawn_app(SCHEMA).await;
    let (alice_id, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (bob_id, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let note =
        |owner: uuid::Uuid| json!({"owner": owner.to_string(), "body": "mine", "secret": "s3"});

    let created = json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&alice),
            Some(note(alice_id)),
        )
        .await,
        201,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert!(
        created["data"].get("secret").is_none(),
        "hidden fields are not returned to users"
    );
    // A create rule is checked against the incoming record.
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&alice),
            Some(note(bob_id)),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/notes",
            Some(&bob),
            Some(note(bob_id)),
        )
        .await,
        201,
    )
    .await;

    let path = format!("/api/v1/notes/{id}");
    let mine = json_with_status(
        send_as(&app, "GET", "/api/v1/notes?count=true", Some(&alice), None).await,
        200,
    )
    .await;
    assert_eq!(
        (
            mine["data"].as_array().unwrap().len(),
            mine["meta"]["page"]["total"].as_u64()
        ),
        (1, Some(1))
    );
    let theirs = json_with_status(
        send_as(&app, "GET", "/api/v1/notes?count=true", Some(&bob), None).await,
        200,
    )
    .await;
    assert_eq!(
        theirs["meta"]["page"]["total"], 1,
        "bob counts only his own"
    );
    assert!(
        theirs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != id.as_str())
    );
    let by_id = format!("/api/v1/notes?ids={id}");
    assert_eq!(
        json_with_status(send_as(&app, "GET", &by_id, Some(&bob), None).await, 200).await["data"],
        json!([])
    );

    assert_problem(
        send_as(&app, "GET", &path, Some(&bob), None).await,
        404,
        "record_not_found",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&bob),
            Some(json!({"body": "hacked"})),
        )
        .await,
        404,
        "record_not_found",
    )
    .await;
    assert_problem(
        send_as(&app, "DELETE", &path, Some(&bob), None).await,
        404,
        "record_not_found",
    )
    .await;
    let batch = json!({"operations": [{"op": "update", "collection": "notes", "id": id, "body": {"body": "hacked"}}]});
    let refused = assert_problem(
        send_as(&app, "POST", "/api/v1/batch", Some(&bob), Some(batch)).await,
        404,
        "record_not_found",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "operations[0]");

    let still = json_with_status(send_as(&app, "GET", &path, Some(&alice), None).await, 200).await;
    assert_eq!(
        still["data"]["body"], "mine",
        "nothing bob did reached the row"
    );
    json_with_status(
        send_as(
            &app,
            "PATCH",
            &path,
            Some(&alice),
            Some(json!({"body": "edited"})),
        )
        .await,
        200,
    )
    .await;
    let admin_view = json_with_status(app.get(&path).await, 200).await;
    assert_eq!(
        (
            admin_view["data"]["body"].as_str(),
            admin_view["data"]["secret"].as_str()
        ),
        (Some("edited"), Some("s3"))
    );
    assert_eq!(
        send_as(&app, "DELETE", &path, Some(&alice), None)
            .await
            .status()
            .as_u16(),
        204
    );
    app.stop().await;
}

#[tokio::test]
async fn hidden_fields_cannot_be_filtered_or_sorted_on_by_users() {
    let app = spawn_app(SCHEMA).await;
    let (_, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let filter = "/api/v1/notes?filter=secret%20%3D%20%22s3%22";
    let refused = assert_problem(
        send_as(&app, "GET", filter, Some(&alice), None).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "filter");
    let refused = assert_problem(
        send_as(&app, "GET", "/api/v1/notes?sort=secret", Some(&alice), None).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "sort");
    json_with_status(app.get(filter).await, 200).await;
    app.stop().await;
}

#[tokio::test]
async fn a_broken_rule_stops_start_up_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let broken = SCHEMA.replace("list = \"owner = auth.id\"", "list = \"ownr = auth.id\"");
    let schema = fathom_schema::parse_schema("rules.toml", &broken).unwrap();
    let error = fathom::Application::build(&test_config(dir.path()), schema, "fathom.db")
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("`list` rule of `notes`") && error.contains("ownr"),
        "{error}"
    );
}
