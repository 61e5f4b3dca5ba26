//! Realtime through a rule on a relation to accounts (`owner = auth.id` with `owner` pointing at
//! users): each subscriber receives the events of the records it may read, in order, and never
//! another account's; an anonymous subscriber receives none.

use std::time::Duration;

use serde_json::{Value, json};

use super::relations::{SCHEMA, create, people};
use crate::realtime::support::{Ws, sub};

/// The titles of the records in the next `n` event frames.
async fn titles(ws: &mut Ws, n: usize) -> Vec<String> {
    let mut titles = Vec::new();
    while titles.len() < n {
        let frame = ws.expect("event").await;
        for matched in frame["matches"].as_array().expect("matches") {
            titles.push(
                matched["record"]["title"]
                    .as_str()
                    .expect("title")
                    .to_owned(),
            );
        }
    }
    titles
}

async fn subscribed(app: &crate::helpers::TestApp, token: Option<&str>) -> Ws {
    let (mut ws, _) = Ws::connect(app, token, None, json!([sub("notes", "notes")])).await;
    ws.expect("subscribed").await;
    ws
}

#[tokio::test]
async fn each_account_receives_only_the_records_its_relation_rule_lets_it_read() {
    let people = people(SCHEMA).await;
    let app = &people.app;
    let mut alice = subscribed(app, Some(&people.alice)).await;
    let mut bob = subscribed(app, Some(&people.bob)).await;
    let mut anonymous = subscribed(app, None).await;
    for (token, owner, title) in [
        (&people.alice, &people.alice_id, "alice 1"),
        (&people.bob, &people.bob_id, "bob 1"),
        (&people.alice, &people.alice_id, "alice 2"),
    ] {
        create(app, token, "notes", json!({"title": title, "owner": owner})).await;
    }
    assert_eq!(titles(&mut alice, 2).await, ["alice 1", "alice 2"]);
    assert_eq!(titles(&mut bob, 1).await, ["bob 1"]);
    let quiet = Duration::from_millis(500);
    let extra: Option<Value> = bob.try_next(quiet).await;
    assert!(extra.is_none(), "bob received more: {extra:?}");
    let leaked: Option<Value> = anonymous.try_next(quiet).await;
    assert!(
        leaked.is_none(),
        "an anonymous subscriber received: {leaked:?}"
    );
}
