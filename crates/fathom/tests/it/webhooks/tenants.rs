//! Tenant binding, in the spirit of the access matrix: an endpoint bound to a tenant receives
//! that tenant's events and nothing else: no other tenant's record (created, updated or
//! deleted), no shared collection's event, not even when an administrator replays the whole
//! range of sequences to it. An unbound endpoint receives everything.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::create_endpoint;
use super::receiver::Receiver;
use crate::helpers::{json_with_status, mint_member, send_as, spawn_app_with};

const SCHEMA: &str = r#"
[collections.notes]
tenant_scoped = true
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null", update = "auth.id != null", delete = "auth.id != null" }
fields.body = { type = "text", required = true }

[collections.labels]
rules = { list = true, view = true }
fields.name = { type = "text", required = true }
"#;

/// The tenants of the records in the messages, and their record ids.
fn seen(got: &[super::receiver::Received]) -> (BTreeSet<String>, BTreeSet<String>) {
    let bodies: Vec<Value> = got.iter().map(super::receiver::Received::json).collect();
    (
        bodies
            .iter()
            .map(|b| b["data"]["tenant"].as_str().unwrap_or("<none>").to_owned())
            .collect(),
        bodies
            .iter()
            .map(|b| {
                b["data"]["record_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect(),
    )
}

#[tokio::test]
async fn a_tenant_bound_endpoint_receives_only_that_tenants_events() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.webhooks.allow_networks = vec!["127.0.0.0/8".into()];
        c.webhooks.lease_ms = 1000;
    })
    .await;
    let (_, acme) = mint_member(&app.store, &app.auth, "a@acme.test", &[], Some("acme")).await;
    let (_, globex) =
        mint_member(&app.store, &app.auth, "g@globex.test", &[], Some("globex")).await;
    let (bound, everything) = (Receiver::start().await, Receiver::start().await);
    let (bound_id, secret) =
        create_endpoint(&app, json!({"url": bound.url(), "tenant": "acme"})).await;
    create_endpoint(&app, json!({"url": everything.url()})).await;

    let write = async |token: &str, method: &str, path: String, body: Option<Value>| {
        let response = send_as(&app, method, &path, Some(token), body).await;
        assert!(response.status().is_success(), "{method} {path}");
        if response.status() == 204 {
            return Value::Null;
        }
        json_with_status(response, response_status(method)).await["data"].clone()
    };
    let mut acme_ids = BTreeSet::new();
    let mut globex_ids = BTreeSet::new();
    for n in 0..3 {
        let mine = write(
            &acme,
            "POST",
            "/api/v1/notes".into(),
            Some(json!({"body": format!("a{n}")})),
        )
        .await;
        acme_ids.insert(mine["id"].as_str().unwrap().to_owned());
        let theirs = write(
            &globex,
            "POST",
            "/api/v1/notes".into(),
            Some(json!({"body": format!("g{n}")})),
        )
        .await;
        let id = theirs["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/notes/{id}");
        write(
            &globex,
            "PATCH",
            path.clone(),
            Some(json!({"body": "changed"})),
        )
        .await;
        write(&globex, "DELETE", path, None).await;
        globex_ids.insert(id);
    }
    app.create("labels", &json!({"name": "shared"})).await;
    // The last write is acme's: once it arrived, everything before it was judged.
    let last = write(
        &acme,
        "POST",
        "/api/v1/notes".into(),
        Some(json!({"body": "last"})),
    )
    .await;
    acme_ids.insert(last["id"].as_str().unwrap().to_owned());

    let got = bound.wait_delivered(4, 20).await;
    let all = everything.wait_delivered(3 + 9 + 1 + 1, 20).await;
    assert_eq!(all.len(), 14, "the unbound endpoint gets every event");
    assert_eq!(got.len(), 4, "{:?}", seen(&got));
    let (tenants, ids) = seen(&got);
    assert_eq!(tenants, BTreeSet::from(["acme".to_owned()]));
    assert_eq!(ids, acme_ids);
    assert!(got.iter().all(|m| m.signed_by(&secret)));

    // Replaying every sequence to the bound endpoint still sends only acme's events.
    let latest = all
        .iter()
        .map(super::receiver::Received::sequence)
        .max()
        .unwrap();
    json_with_status(
        app.post_json(
            &format!("/api/v1/admin/webhooks/{bound_id}/replay"),
            &json!({"from": 1, "to": latest}),
        )
        .await,
        202,
    )
    .await;
    let again = bound.wait_delivered(8, 20).await;
    // Give a wrongly replayed event time to arrive before judging.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let again_and_more = bound.delivered();
    assert_eq!(again.len(), 8);
    assert_eq!(again_and_more.len(), 8, "{:?}", seen(&again_and_more));
    let (tenants, ids) = seen(&again_and_more);
    assert_eq!(tenants, BTreeSet::from(["acme".to_owned()]));
    assert!(ids.is_disjoint(&globex_ids));
}

fn response_status(method: &str) -> u16 {
    if method == "POST" { 201 } else { 200 }
}
