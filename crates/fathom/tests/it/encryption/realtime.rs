//! Realtime subscribers who may see an encrypted field receive it decrypted, and a subscription
//! filtering on it by equality (blind index) matches in memory on the plaintext.

use serde_json::json;

use super::support::{EMAIL, SSN, spawn_encrypted};
use crate::realtime::support::{Ws, announced};

#[tokio::test]
async fn subscribers_receive_plaintext_and_equality_subscriptions_match() {
    let (app, _keys, _path) = spawn_encrypted().await;
    let subs = json!([
        {"id": "all", "collection": "people"},
        {"id": "canary", "collection": "people", "filter": format!("email = \"{EMAIL}\"")},
    ]);
    let (mut ws, _ready) = Ws::connect(&app, Some(&app.admin_token), None, subs).await;
    ws.expect("subscribed").await;
    ws.expect("subscribed").await;
    app.create(
        "people",
        &json!({"name": "Other", "email": "other@example.com", "ssn": "x"}),
    )
    .await;
    app.create(
        "people",
        &json!({"name": "Canary", "email": EMAIL, "ssn": SSN}),
    )
    .await;
    let frames = ws.events(2).await;
    let (_, other) = announced(&frames[0], "all").expect("all sees the first");
    assert_eq!(other["email"], "other@example.com", "{}", frames[0]);
    assert!(announced(&frames[0], "canary").is_none(), "{}", frames[0]);
    let (op, canary) = announced(&frames[1], "canary").expect("the filter matches");
    assert_eq!(op, "create");
    assert_eq!(canary["ssn"], SSN, "{}", frames[1]);
    assert_eq!(canary["email"], EMAIL, "{}", frames[1]);
    app.stop().await;
}
