//! Before-write hooks registered through the builder reach the records engine: a refusal is
//! answered as the hook's own problem and writes nothing; a hook for a collection the schema
//! does not have is refused when the server is built. (The hooks' semantics are the engine's
//! suite.)

use fathom::{BeforeWrite, HookRefusal, PendingWrite};
use serde_json::json;

use super::support::{outbox, spawn_built};
use crate::helpers::{TEST_SCHEMA, assert_problem, test_config};

/// Refuses every note whose body is `no`.
struct NoNo;

#[async_trait::async_trait]
impl BeforeWrite for NoNo {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        if write.value("body") == Some(&json!("no")) {
            return Err(HookRefusal::new(
                422,
                "note_refused",
                "This note says no.",
                "Say something else.",
            ));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_before_create_hook_from_the_builder_refuses_with_its_own_problem() {
    let app = spawn_built(TEST_SCHEMA, |_| {}, |b| b.before_create("notes", NoNo)).await;
    let refused = app
        .post_json("/api/v1/notes", &json!({ "body": "no" }))
        .await;
    let problem = assert_problem(refused, 422, "note_refused").await;
    assert_eq!(problem["hint"], "Say something else.");
    assert!(outbox(&app).await.is_empty(), "a refusal writes nothing");
    let created = app
        .post_json("/api/v1/notes", &json!({ "body": "yes" }))
        .await;
    assert_eq!(created.status(), 201);
}

#[tokio::test]
async fn a_before_write_hook_for_an_unknown_collection_is_refused_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let error = fathom::Fathom::builder()
        .config(test_config(dir.path()))
        .schema(fathom_schema::parse_schema("t", TEST_SCHEMA).unwrap())
        .before_delete("nothing_here", NoNo)
        .build()
        .await
        .err()
        .expect("the build is refused");
    assert!(
        error
            .to_string()
            .contains("`nothing_here`, which the schema does not have"),
        "{error}"
    );
}
