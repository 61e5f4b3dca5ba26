//! Visibility per subscriber, as REST decides it: the owner, another user, an anonymous caller,
//! members of two tenants and an administrator each subscribe to the same collections; every
//! event each receives is one it could read through REST at that moment, hidden fields are
//! absent for all but the administrator, and a record moved from one owner to another leaves the
//! first and enters the second's view. A rule through a relation (`board.owner = auth.id`) is
//! answered by the store.

use serde_json::{Value, json};

use super::support::{SCHEMA, Ws, create, marker, patch, sub};
use crate::helpers::{mint_member, mint_user, spawn_app};

/// What one subscriber received before the marker: `(collection, sub, op, record)`.
fn seen(events: &[Value]) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for frame in events {
        for m in frame["matches"].as_array().unwrap() {
            out.push((
                frame["collection"].as_str().unwrap().to_owned(),
                m["sub"].as_str().unwrap().to_owned(),
                m["op"].as_str().unwrap().to_owned(),
                m["record"].clone(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn each_subscriber_receives_what_it_could_read() {
    let app = spawn_app(SCHEMA).await;
    let (a_id, a) = mint_user(&app.store, &app.auth, "a@example.com", &["user"]).await;
    let (b_id, b) = mint_user(&app.store, &app.auth, "b@example.com", &["user"]).await;
    let (_, t1) = mint_member(
        &app.store,
        &app.auth,
        "t1@example.com",
        &["user"],
        Some("t1"),
    )
    .await;
    let (_, t2) = mint_member(
        &app.store,
        &app.auth,
        "t2@example.com",
        &["user"],
        Some("t2"),
    )
    .await;
    let subs = json!([
        sub("notes", "notes"),
        sub("memos", "memos"),
        sub("cards", "cards"),
        sub("m", "posts"),
    ]);
    let mut clients = Vec::new();
    for (name, token) in [
        ("a", Some(a.as_str())),
        ("b", Some(b.as_str())),
        ("anonymous", None),
        ("t1", Some(t1.as_str())),
        ("t2", Some(t2.as_str())),
        ("admin", Some(app.admin_token.as_str())),
    ] {
        let (mut ws, _) = Ws::connect(&app, token, None, subs.clone()).await;
        for _ in 0..4 {
            ws.expect("subscribed").await;
        }
        clients.push((name, ws));
    }

    let note = create(
        &app,
        "notes",
        json!({"owner": a_id, "body": "hi", "secret": "s"}),
    )
    .await;
    patch(&app, "notes", &note["id"], json!({"owner": b_id})).await;
    create(&app, "memos", json!({"body": "for t1", "tenant": "t1"})).await;
    let board = create(&app, "boards", json!({"owner": a_id, "name": "a's"})).await;
    create(&app, "cards", json!({"board": board["id"], "text": "card"})).await;
    let marker = marker(&app).await;

    for (name, ws) in &mut clients {
        let events = ws.events_until(&marker).await;
        let got: Vec<(String, String, String)> = seen(&events)
            .iter()
            .map(|(c, s, o, _)| (c.clone(), s.clone(), o.clone()))
            .collect();
        let expected: Vec<(&str, &str, &str)> = match *name {
            "a" => vec![
                ("notes", "notes", "create"),
                ("notes", "notes", "leave"),
                ("cards", "cards", "create"),
            ],
            "b" => vec![("notes", "notes", "enter")],
            "t1" => vec![("memos", "memos", "create")],
            "admin" => vec![
                ("notes", "notes", "create"),
                ("notes", "notes", "update"),
                ("memos", "memos", "create"),
                ("cards", "cards", "create"),
            ],
            _ => vec![],
        };
        let expected: Vec<(String, String, String)> = expected
            .into_iter()
            .map(|(c, s, o)| (c.into(), s.into(), o.into()))
            .collect();
        assert_eq!(got, expected, "{name} received {events:?}");
        for (collection, _, op, record) in seen(&events) {
            if collection != "notes" {
                continue;
            }
            match (*name, op.as_str()) {
                ("admin", _) => assert_eq!(record["secret"], "s", "{record}"),
                ("a", "leave") => assert_eq!(record, Value::Null, "a can no longer read it"),
                _ => {
                    assert!(record.get("secret").is_none(), "{name}: {record}");
                    assert_eq!(record["body"], "hi");
                }
            }
        }
    }
}

#[tokio::test]
async fn an_api_key_subscribes_by_its_scopes_and_tenant() {
    let app = spawn_app(SCHEMA).await;
    let key = |body: Value| {
        let app = &app;
        async move {
            let response = app.post_json("/api/v1/admin/api-keys", &body).await;
            let status = response.status();
            let json: Value = response.json().await.unwrap();
            assert_eq!(status, 201, "{json}");
            json["data"]["key"].as_str().unwrap().to_owned()
        }
    };
    let memos_t1 =
        key(json!({"name": "t1 reader", "scopes": ["memos:list"], "tenant": "t1"})).await;
    let notes_only = key(json!({"name": "notes reader", "scopes": ["notes:list"]})).await;
    let (mut tenant_key, _) =
        Ws::connect(&app, Some(&memos_t1), None, json!([sub("memos", "memos")])).await;
    tenant_key.expect("subscribed").await;
    let (mut wrong, _) = Ws::connect(
        &app,
        Some(&notes_only),
        None,
        json!([sub("memos", "memos")]),
    )
    .await;
    let refused = wrong.expect("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    create(&app, "memos", json!({"body": "t2 only", "tenant": "t2"})).await;
    let mine = create(&app, "memos", json!({"body": "t1", "tenant": "t1"})).await;
    let frame = tenant_key.expect("event").await;
    assert_eq!(
        frame["id"], mine["id"],
        "the t2 memo never reached the t1 key: {frame}"
    );
}

/// Connections whose subscriptions have neither filter nor rule share what they make of a batch
/// (judged and encoded once): members of two tenants, administrators, an anonymous caller and a
/// field selection, all live on the same batch of writes in both tenants; each receives exactly
/// what it could read, in the shape it asked for, so nothing of one way of seeing the batch
/// reaches a connection that sees it another way.
#[tokio::test]
async fn connections_that_see_a_batch_alike_share_it_and_only_they_do() {
    let app = spawn_app(SCHEMA).await;
    let member = |email: &'static str, tenant: &'static str| {
        let (store, auth) = (app.store.clone(), app.auth.clone());
        async move {
            mint_member(&store, &auth, email, &["user"], Some(tenant))
                .await
                .1
        }
    };
    let (t1, t1_again, t2) = (
        member("t1a@example.com", "t1").await,
        member("t1b@example.com", "t1").await,
        member("t2@example.com", "t2").await,
    );
    let whole = json!([sub("memos", "memos"), sub("m", "posts")]);
    let ids_only = json!([
        {"id": "memos", "collection": "memos", "fields": ["id"]},
        sub("m", "posts")
    ]);
    let mut clients = Vec::new();
    for (name, token, subs) in [
        ("t1", Some(t1.as_str()), &whole),
        ("t1 again", Some(t1_again.as_str()), &whole),
        ("t1 ids only", Some(t1.as_str()), &ids_only),
        ("t2", Some(t2.as_str()), &whole),
        ("admin", Some(app.admin_token.as_str()), &whole),
        ("admin again", Some(app.admin_token.as_str()), &whole),
        ("anonymous", None, &whole),
    ] {
        let (mut ws, _) = Ws::connect(&app, token, None, subs.clone()).await;
        ws.expect("subscribed").await;
        ws.expect("subscribed").await;
        clients.push((name, ws));
    }
    // One transaction, so one read of the outbox: every connection gets the same batch.
    let operations: Vec<Value> = ["t1", "t2", "t1", "t2"]
        .iter()
        .enumerate()
        .map(|(n, tenant)| {
            json!({"op": "create", "collection": "memos",
                   "body": {"body": format!("{tenant} #{n}"), "tenant": tenant}})
        })
        .collect();
    let response = app
        .post_json("/api/v1/batch", &json!({"operations": operations}))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let marker = marker(&app).await;

    for (name, ws) in &mut clients {
        let bodies: Vec<Value> = seen(&ws.events_until(&marker).await)
            .into_iter()
            .map(|(_, _, op, record)| {
                assert_eq!(op, "create", "{name}");
                record.get("body").cloned().unwrap_or_else(|| {
                    assert!(record["id"].is_string(), "{name}: {record}");
                    json!("(id only)")
                })
            })
            .collect();
        let expected = match *name {
            "t1" | "t1 again" => json!(["t1 #0", "t1 #2"]),
            "t1 ids only" => json!(["(id only)", "(id only)"]),
            "t2" => json!(["t2 #1", "t2 #3"]),
            "admin" | "admin again" => json!(["t1 #0", "t2 #1", "t1 #2", "t2 #3"]),
            _ => json!([]),
        };
        assert_eq!(Value::Array(bodies), expected, "{name}");
    }
}
