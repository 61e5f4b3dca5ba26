//! The store contract: behaviour every backend must show, written against `Store` alone so that
//! the PostgreSQL backend runs the same suite: SQLite in a temporary directory, or a scratch
//! PostgreSQL database with `FATHOM_TEST_BACKEND=postgres` (see `support`).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::sync::Arc;

use fathom_schema::Value;
use fathom_store::{ListQuery, Scope, StoreErrorKind, UnitOfWork, WriteOp, WriteResult};

mod support;

use support::Fixture;

const SCHEMA: &str = r#"
[collections.authors]
fields.name = { type = "text", required = true, unique = true }

[collections.books]
soft_delete = true
fields.title  = { type = "text", required = true }
fields.author = { type = "relation", collection = "authors", required = true }
fields.isbn   = { type = "text", unique = true }
"#;

async fn fixture() -> Fixture {
    Fixture::migrated("contract", SCHEMA).await
}

impl Fixture {
    fn create_author(&self, name: &str) -> WriteOp {
        WriteOp::Create {
            id: None,
            collection: self.collection("authors"),
            values: vec![("name".into(), Value::Text(name.into()))],
            tenant: None,
        }
    }

    async fn count(&self, name: &str) -> u64 {
        self.store
            .count(&Scope::AllTenants, self.collection(name), None)
            .await
            .unwrap()
    }
}

fn created_id(results: &[WriteResult]) -> uuid::Uuid {
    match &results[0] {
        WriteResult::Created(record) => record.id,
        other => panic!("expected a created record, got {other:?}"),
    }
}

#[tokio::test]
async fn a_unit_of_work_commits_all_or_nothing() {
    let f = fixture().await;
    let work = UnitOfWork {
        ops: vec![
            f.create_author("Ann"),
            f.create_author("Bob"),
            f.create_author("Ann"),
        ],
        ..UnitOfWork::new(Scope::AllTenants)
    };
    let error = f.store.execute(work).await.unwrap_err();
    assert_eq!(
        error.kind,
        StoreErrorKind::UniqueViolation {
            fields: vec!["name".into()]
        }
    );
    assert_eq!(
        f.count("authors").await,
        0,
        "the first two creates must be rolled back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_in_a_commit_group_does_not_touch_the_others() {
    let f = Arc::new(fixture().await);
    f.store
        .execute(UnitOfWork::single(
            Scope::AllTenants,
            f.create_author("taken"),
        ))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let name = if n % 10 == 0 {
                "taken".to_owned()
            } else {
                format!("author {n}")
            };
            f.store
                .execute(UnitOfWork::single(
                    Scope::AllTenants,
                    f.create_author(&name),
                ))
                .await
        }));
    }
    let mut failed = 0;
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            assert!(matches!(e.kind, StoreErrorKind::UniqueViolation { .. }));
            failed += 1;
        }
    }
    assert_eq!(failed, 20);
    assert_eq!(f.count("authors").await, 1 + 180);
}

#[tokio::test]
async fn relations_to_missing_records_and_restricted_deletes_are_foreign_key_violations() {
    let f = fixture().await;
    let missing = WriteOp::Create {
        id: None,
        collection: f.collection("books"),
        values: vec![
            ("title".into(), Value::Text("Orphan".into())),
            (
                "author".into(),
                Value::Text(uuid::Uuid::now_v7().to_string()),
            ),
        ],
        tenant: None,
    };
    assert_eq!(
        f.store
            .execute(UnitOfWork::single(Scope::AllTenants, missing))
            .await
            .unwrap_err()
            .kind,
        StoreErrorKind::ForeignKeyViolation
    );

    let author = created_id(
        &f.store
            .execute(UnitOfWork::single(Scope::AllTenants, f.create_author("Cy")))
            .await
            .unwrap(),
    );
    let book = WriteOp::Create {
        id: None,
        collection: f.collection("books"),
        values: vec![
            ("title".into(), Value::Text("Real".into())),
            ("author".into(), Value::Text(author.to_string())),
        ],
        tenant: None,
    };
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, book))
        .await
        .unwrap();
    let delete = WriteOp::Delete {
        collection: f.collection("authors"),
        id: author,
        guard: None,
        expected_version: None,
    };
    let error = f
        .store
        .execute(UnitOfWork::single(Scope::AllTenants, delete))
        .await
        .unwrap_err();
    assert_eq!(
        error.kind,
        StoreErrorKind::ForeignKeyViolation,
        "{}",
        error.detail
    );
}

#[tokio::test]
async fn updates_bump_the_version_and_soft_deletes_hide_records_and_free_unique_values() {
    let f = fixture().await;
    let author = created_id(
        &f.store
            .execute(UnitOfWork::single(Scope::AllTenants, f.create_author("Di")))
            .await
            .unwrap(),
    );
    let book = |isbn: &str| WriteOp::Create {
        id: None,
        collection: f.collection("books"),
        values: vec![
            ("title".into(), Value::Text("T".into())),
            ("author".into(), Value::Text(author.to_string())),
            ("isbn".into(), Value::Text(isbn.into())),
        ],
        tenant: None,
    };
    let id = created_id(
        &f.store
            .execute(UnitOfWork::single(Scope::AllTenants, book("111")))
            .await
            .unwrap(),
    );
    let update = WriteOp::Update {
        collection: f.collection("books"),
        id,
        values: vec![("title".into(), Value::Text("T2".into()))],
        guard: None,
        expected_version: None,
    };
    let results = f
        .store
        .execute(UnitOfWork::single(Scope::AllTenants, update))
        .await
        .unwrap();
    let WriteResult::Updated(record) = &results[0] else {
        panic!("expected an update")
    };
    assert_eq!(record.version, 2);
    assert_eq!(record.values[0], ("title".into(), Value::Text("T2".into())));

    f.store
        .execute(UnitOfWork::single(
            Scope::AllTenants,
            WriteOp::Delete {
                collection: f.collection("books"),
                id,
                guard: None,
                expected_version: None,
            },
        ))
        .await
        .unwrap();
    assert!(
        f.store
            .get(&Scope::AllTenants, f.collection("books"), id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.store
            .list(
                &Scope::AllTenants,
                f.collection("books"),
                ListQuery::first(10)
            )
            .await
            .unwrap()
            .is_empty()
    );
    let again = WriteOp::Delete {
        collection: f.collection("books"),
        id,
        guard: None,
        expected_version: None,
    };
    assert_eq!(
        f.store
            .execute(UnitOfWork::single(Scope::AllTenants, again))
            .await
            .unwrap_err()
            .kind,
        StoreErrorKind::NotFound
    );
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, book("111")))
        .await
        .expect("a soft-deleted record's unique value is free");
}

#[tokio::test]
async fn a_failing_migration_changes_nothing() {
    let f = fixture().await;
    f.store
        .execute(UnitOfWork::single(
            Scope::AllTenants,
            f.create_author("Eve"),
        ))
        .await
        .unwrap();
    let before = f.store.applied().await.unwrap().unwrap();
    // `name` becomes an integer: "Eve" cannot convert, so the rebuild fails half-way.
    let narrowed = SCHEMA.replace(
        r#"fields.name = { type = "text", required = true, unique = true }"#,
        r#"fields.name = { type = "integer", required = true, unique = true }
fields.extra = { type = "text" }"#,
    );
    let narrowed = fathom_schema::parse_schema("narrowed.toml", &narrowed).unwrap();
    let plan = f.store.plan(&narrowed).await.unwrap();
    assert!(plan.is_unsafe());
    let refused = f.store.migrate(&narrowed, false).await.unwrap_err();
    assert!(matches!(refused.kind, StoreErrorKind::UnsafeMigration(_)));
    f.store
        .migrate(&narrowed, true)
        .await
        .expect_err("converting text to integer must fail");
    let after = f.store.applied().await.unwrap().unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(after.schema, before.schema);
    let authors = f
        .store
        .list(
            &Scope::AllTenants,
            f.collection("authors"),
            ListQuery::first(10),
        )
        .await
        .unwrap();
    assert_eq!(authors.len(), 1);
    assert_eq!(
        authors[0].values,
        vec![("name".into(), Value::Text("Eve".into()))]
    );
    // The store still works after the failed migration.
    f.store
        .execute(UnitOfWork::single(
            Scope::AllTenants,
            f.create_author("Fay"),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn migration_history_keeps_every_version_with_its_snapshot() {
    let f = fixture().await;
    let extended = SCHEMA.replace(
        "fields.isbn ",
        "fields.pages = { type = \"integer\" }\nfields.isbn ",
    );
    let extended = fathom_schema::parse_schema("extended.toml", &extended).unwrap();
    let plan = f.store.migrate(&extended, false).await.unwrap();
    assert_eq!(plan.from_version, 1);
    // The plan shows each database's own SQL.
    let column = if support::postgres() {
        "ADD COLUMN \"pages\" bigint"
    } else {
        "ADD COLUMN \"pages\" INTEGER"
    };
    assert!(
        plan.statements().any(|s| s.contains(column)),
        "{}",
        plan.render()
    );
    let history = f.store.history().await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(history[0].schema, f.schema);
    assert_eq!(history[1].schema, extended);
    assert!(f.store.plan(&extended).await.unwrap().is_empty());
}
