//! Three `fathom serve` processes on one PostgreSQL database, started at the same moment:
//! migrations run exactly once (the advisory lock), a write through any node reads back through
//! every node, and a token issued by one node is accepted by the others.

use std::sync::Barrier;

use serde_json::json;

use super::{OPEN_NOTES, pg_project};
use crate::helpers::ServerProcess;
use crate::operations::support::{Http, stop};

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
        let me = reqwest::Client::new()
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
