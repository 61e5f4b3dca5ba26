//! Before-write hooks registered through the builder reach the records engine: a refusal is
//! answered as the hook's own problem and writes nothing; the codes the application declares are
//! in the OpenAPI document where they can be answered; a hook for a collection the schema does
//! not have, or a bad declaration, is refused when the server is built. (The hooks' semantics
//! are the engine's suite.)

use fathom::{BeforeWrite, HookCode, HookRefusal, PendingWrite};
use serde_json::json;

use super::support::{outbox, spawn_built};
use crate::helpers::{TEST_SCHEMA, assert_problem, test_config};

const NOTE_REFUSED: HookCode = HookCode::new("note_refused", 422, "The note says no");
/// A status no code of Fathom's answers with.
const NOTE_UNPAID: HookCode = HookCode::new("note_unpaid", 402, "Notes cost money");

/// Refuses every note whose body is `no`.
struct NoNo;

#[async_trait::async_trait]
impl BeforeWrite for NoNo {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        if write.value("body") == Some(&json!("no")) {
            return Err(NOTE_REFUSED.refuse("This note says no.", "Say something else."));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_codes_are_in_the_openapi_document_on_the_writes_that_run_hooks() {
    let app = spawn_built(
        TEST_SCHEMA,
        |_| {},
        |b| {
            b.before_create("notes", NoNo)
                .error_codes(&[NOTE_REFUSED, NOTE_UNPAID])
        },
    )
    .await;
    let document: serde_json::Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let codes = &document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    for code in ["note_refused", "note_unpaid", "validation_failed"] {
        assert!(
            codes.as_array().unwrap().contains(&json!(code)),
            "{code} in {codes}"
        );
    }
    let listed = document["x-error-codes"].as_array().unwrap();
    assert!(
        listed.contains(
            &json!({ "code": "note_unpaid", "status": 402, "title": "Notes cost money" })
        )
    );
    assert!(
        document["info"]["description"]
            .as_str()
            .unwrap()
            .contains("| `note_refused` | 422 | The note says no |")
    );
    let unpaid = &document["components"]["responses"]["Problem402"];
    assert!(
        unpaid["description"]
            .as_str()
            .unwrap()
            .contains("`note_unpaid`"),
        "{unpaid}"
    );
    // The hooked write and the batch answer both statuses; an unhooked write does not
    // answer the new one.
    for (path, method) in [("/api/v1/notes", "post"), ("/api/v1/batch", "post")] {
        let responses = &document["paths"][path][method]["responses"];
        assert_eq!(
            responses["402"]["$ref"], "#/components/responses/Problem402",
            "{path} {method}"
        );
        assert!(responses["422"].is_object(), "{path} {method}");
    }
    assert!(document["paths"]["/api/v1/notes/{id}"]["patch"]["responses"]["402"].is_null());
    // The refusal is answered as declared.
    let refused = app
        .post_json("/api/v1/notes", &json!({ "body": "no" }))
        .await;
    assert_problem(refused, 422, "note_refused").await;
}

#[tokio::test]
async fn bad_code_declarations_are_refused_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let error = fathom::Fathom::builder()
        .config(test_config(dir.path()))
        .schema(fathom_schema::parse_schema("t", TEST_SCHEMA).unwrap())
        .before_create("notes", NoNo)
        .error_codes(&[
            HookCode::new("Note-Refused", 422, ""),
            HookCode::new("note_late", 503, ""),
            HookCode::new("validation_failed", 400, ""),
        ])
        .build()
        .await
        .err()
        .expect("the build is refused");
    let text = error.to_string();
    for part in [
        "`Note-Refused` must be snake case",
        "`note_late` is declared with the status 503",
        "`validation_failed` is one of Fathom's own",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
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
