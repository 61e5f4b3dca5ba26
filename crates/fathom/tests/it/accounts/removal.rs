//! Deleting an account (`DELETE /api/v1/admin/users/{id}`): the records pointing at it follow
//! each relation's `on_delete` (cascade removes them, set_null clears the reference, restrict
//! refuses the deletion and changes nothing), each change has its event, and the account's
//! access tokens stop working at once.

use serde_json::json;

use super::relations::{SCHEMA, create, people};
use crate::helpers::{assert_problem, json_with_status, mint_member, send_as};

#[tokio::test]
async fn deleting_an_account_applies_each_relations_on_delete() {
    let p = people(SCHEMA).await;
    let note = create(
        &p.app,
        &p.alice,
        "notes",
        json!({"title": "mine", "owner": p.alice_id}),
    )
    .await;
    let post = create(
        &p.app,
        &p.alice,
        "posts",
        json!({"title": "Hi", "author": p.alice_id}),
    )
    .await;
    let kept = create(
        &p.app,
        &p.bob,
        "posts",
        json!({"title": "Bob's", "author": p.bob_id}),
    )
    .await;
    // Alice's token works before.
    json_with_status(
        send_as(&p.app, "GET", "/api/v1/auth/me", Some(&p.alice), None).await,
        200,
    )
    .await;
    let events_before = json_with_status(
        send_as(
            &p.app,
            "GET",
            "/api/v1/events?after=0&limit=100",
            Some(&p.admin),
            None,
        )
        .await,
        200,
    )
    .await;
    let seen_before = events_before["data"].as_array().map_or(0, Vec::len);

    let path = format!("/api/v1/admin/users/{}", p.alice_id);
    // Only administrators delete accounts.
    assert_problem(
        send_as(&p.app, "DELETE", &path, Some(&p.bob), None).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        send_as(&p.app, "DELETE", &path, None, None).await,
        401,
        "unauthorized",
    )
    .await;
    let answer = send_as(&p.app, "DELETE", &path, Some(&p.admin), None).await;
    assert_eq!(answer.status().as_u16(), 204);

    // cascade: the note is gone; set_null: the post stays, its author cleared; others untouched.
    let note_path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    assert_problem(
        send_as(&p.app, "GET", &note_path, Some(&p.admin), None).await,
        404,
        "record_not_found",
    )
    .await;
    let post_path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let post_now =
        json_with_status(send_as(&p.app, "GET", &post_path, None, None).await, 200).await;
    assert_eq!(post_now["data"]["author"], serde_json::Value::Null);
    assert_eq!(post_now["data"]["version"], 2);
    let kept_path = format!("/api/v1/posts/{}", kept["id"].as_str().unwrap());
    let kept_now =
        json_with_status(send_as(&p.app, "GET", &kept_path, None, None).await, 200).await;
    assert_eq!(kept_now["data"]["author"], p.bob_id.as_str());
    // Each change is in the outbox: the note's delete and the post's update.
    let events = json_with_status(
        send_as(
            &p.app,
            "GET",
            "/api/v1/events?after=0&limit=100",
            Some(&p.admin),
            None,
        )
        .await,
        200,
    )
    .await;
    let events = events["data"].as_array().expect("events");
    let new: Vec<_> = events[seen_before..]
        .iter()
        .map(|e| {
            (
                e["collection"].as_str().unwrap_or(""),
                e["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        new,
        vec![("notes", "delete"), ("posts", "update")],
        "{events:?}"
    );

    // The account and its sessions are gone: its token stops at once.
    assert_problem(
        send_as(&p.app, "GET", "/api/v1/auth/me", Some(&p.alice), None).await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        send_as(&p.app, "GET", &path, Some(&p.admin), None).await,
        404,
        "record_not_found",
    )
    .await;
    // A second delete, or an unknown id: 404; a malformed id: 400.
    assert_problem(
        send_as(&p.app, "DELETE", &path, Some(&p.admin), None).await,
        404,
        "record_not_found",
    )
    .await;
    assert_problem(
        send_as(
            &p.app,
            "DELETE",
            "/api/v1/admin/users/nope",
            Some(&p.admin),
            None,
        )
        .await,
        400,
        "invalid_id",
    )
    .await;
}

#[tokio::test]
async fn a_restrict_relation_keeps_the_account_and_says_why() {
    let p = people(SCHEMA).await;
    let (carol_id, carol) =
        mint_member(&p.app.store, &p.app.auth, "c@acme.test", &[], Some("acme")).await;
    create(
        &p.app,
        &carol,
        "invoices",
        json!({"amount": 9, "customer": carol_id.to_string()}),
    )
    .await;
    let note = create(
        &p.app,
        &carol,
        "notes",
        json!({"title": "kept", "owner": carol_id.to_string()}),
    )
    .await;
    let path = format!("/api/v1/admin/users/{carol_id}");
    let refused = assert_problem(
        send_as(&p.app, "DELETE", &path, Some(&p.admin), None).await,
        409,
        "relation_violation",
    )
    .await;
    assert_eq!(
        refused["errors"][0]["field"], "invoices.customer",
        "{refused}"
    );
    assert_eq!(
        refused["errors"][0]["code"], "still_referenced",
        "{refused}"
    );
    // Nothing changed: the account, its token and the note a cascade would have removed.
    json_with_status(
        send_as(&p.app, "GET", &path, Some(&p.admin), None).await,
        200,
    )
    .await;
    json_with_status(
        send_as(&p.app, "GET", "/api/v1/auth/me", Some(&carol), None).await,
        200,
    )
    .await;
    let note_path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    json_with_status(
        send_as(&p.app, "GET", &note_path, Some(&carol), None).await,
        200,
    )
    .await;
}
