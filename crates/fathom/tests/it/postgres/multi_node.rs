//! Three `fathom serve` processes on one PostgreSQL database, started at the same moment:
//! migrations run exactly once (the advisory lock), a write through any node reads back through
//! every node, and a token issued by one node is accepted by the others. Nodes also follow the
//! database's schema: one `migrate apply`, or one node's reload on SIGHUP, reaches them all.

use std::sync::Barrier;

use serde_json::json;

use super::{OPEN_NOTES, pg_project};
use crate::helpers::ServerProcess;
use crate::operations::support::{Http, eventually, stop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_database_migrate_once_and_share_writes_and_tokens() {
    let Some(project) = pg_project() else { return };
    project.write("fathom.schema.toml", OPEN_NOTES);
    let start = Barrier::new(3);
    let mut nodes: Vec<ServerProcess> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    project.serve(&[])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a node starts"))
            .collect()
    });

    // Exactly one migration happened, whichever node won the lock.
    let status = project.migrate("status", "fathom.schema.toml", &[]);
    status.expect_code(0);
    let versions: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("version"))
        .collect();
    assert_eq!(
        versions.len(),
        1,
        "one migration, not one per node: {}",
        status.stdout
    );

    let http: Vec<Http> = nodes.iter().map(Http::new).collect();
    for node in &http {
        assert_eq!(node.get("/ready").await.0, 200);
    }
    // A write through each node is read back, identically, through every node.
    for (n, writer) in http.iter().enumerate() {
        let created = writer
            .create(
                "notes",
                &json!({ "body": format!("written through node {n}") }),
            )
            .await;
        for reader in &http {
            assert_eq!(reader.record("notes", &created["id"]).await, created);
        }
    }
    for reader in &http {
        assert_eq!(reader.list("notes").await.len(), 3);
    }

    // An account registered through node 0 logs in through node 1; the token node 1 issued is
    // accepted by nodes 0 and 2 (they share the signing keys through the database).
    let account =
        json!({ "email": "ada@example.com", "password": "a long enough passphrase 2026" });
    let (status, body) = http[0].post("/api/v1/auth/register", &account).await;
    assert!(status == 201 || status == 202, "register: {status} {body}");
    let (status, body) = http[1].post("/api/v1/auth/login", &account).await;
    assert_eq!(status, 200, "login: {body}");
    let token = body["data"]["access_token"]
        .as_str()
        .or_else(|| body["access_token"].as_str())
        .unwrap_or_else(|| panic!("an access token in {body}"))
        .to_owned();
    for node in [&nodes[0], &nodes[2]] {
        let me = crate::helpers::client_builder()
            .build()
            .unwrap()
            .get(node.url("/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request sent");
        assert_eq!(me.status(), 200, "node {} refused the token", node.address);
    }

    for node in &mut nodes {
        assert!(stop(node).success());
    }
}

/// [`OPEN_NOTES`] and a `pinned` field.
const NOTES_WITH_PINNED: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.body   = { type = "text", required = true }
fields.pinned = { type = "boolean" }
"#;

/// [`NOTES_WITH_PINNED`] and a `rank` field.
const NOTES_WITH_RANK: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.body   = { type = "text", required = true }
fields.pinned = { type = "boolean" }
fields.rank   = { type = "integer" }
"#;

/// Whether a node accepts a note with `field` set (201), i.e. serves a schema that has it.
async fn accepts(node: &Http, field: &str, value: serde_json::Value) -> bool {
    let note = json!({ "body": format!("with {field}"), field: value });
    node.post("/api/v1/notes", &note).await.0 == 201
}

/// Issue 11 item 7: two nodes both follow one `migrate apply` by another process, with their own
/// schema file unchanged; then one node's SIGHUP reload (an additive migration) reaches the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_follow_one_migrate_apply_and_one_nodes_reload() {
    let Some(project) = pg_project() else { return };
    project.write("fathom.schema.toml", OPEN_NOTES);
    let mut nodes = [project.serve(&[]), project.serve(&[])];
    let http: Vec<Http> = nodes.iter().map(Http::new).collect();
    for node in &http {
        assert!(!accepts(node, "pinned", json!(true)).await);
    }

    project.write("v2.toml", NOTES_WITH_PINNED);
    project.migrate("apply", "v2.toml", &[]).expect_code(0);
    let mut followed = Vec::new();
    for node in &http {
        followed.push(
            eventually(|| async {
                node.get("/ready").await.0 == 200 && accepts(node, "pinned", json!(true)).await
            })
            .await,
        );
    }

    // The shared schema file moves on; only node 0 is told to reload it.
    project.write("fathom.schema.toml", NOTES_WITH_RANK);
    nodes[0].hangup();
    nodes[0].wait_for_log("schema reloaded", 2);
    let reloaded = accepts(&http[0], "rank", json!(3)).await;
    let other = eventually(|| async { accepts(&http[1], "rank", json!(4)).await }).await;
    let other_logged = nodes[1].wait_for_log("schema reloaded", 2);

    for node in &mut nodes {
        assert!(stop(node).success());
    }
    assert_eq!(
        followed,
        [true, true],
        "each node serves the applied schema"
    );
    assert!(reloaded, "node 0 serves its reloaded schema file");
    assert!(other, "node 1 follows the migration node 0 applied");
    assert!(
        other_logged["message"]
            .as_str()
            .is_some_and(|m| m.contains("the database was migrated to version 3")),
        "{other_logged}"
    );
    project.assert_nothing_pending();
}
