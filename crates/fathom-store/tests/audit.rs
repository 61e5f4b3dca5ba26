//! The hash-chained audit log against `Store` alone, on the backend of this run (SQLite, or
//! PostgreSQL with `FATHOM_TEST_BACKEND=postgres`): entries of `audit = true` collections in the
//! write's own transaction (field names, never values), a linear chain under concurrent writers
//! (and two nodes on PostgreSQL), and pruning with its checkpoint.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::time::Duration;

use fathom_schema::Value;
use fathom_store::audit::{BreakKind, CHECKPOINT_ACTION, Verifier};
use fathom_store::{
    Actor, AuditEntry, AuditRecord, AuditRetention, Origin, Scope, Store, UnitOfWork, WriteOp,
    WriteResult,
};
use uuid::Uuid;

mod support;

use support::Fixture;

const SCHEMA: &str = r#"
[collections.payments]
audit = true
soft_delete = true
fields.amount = { type = "integer", required = true }
fields.card   = { type = "text", hidden = true }

[collections.notes]
fields.body = { type = "text", required = true }
"#;

async fn fixture() -> Fixture {
    Fixture::migrated("audit", SCHEMA).await
}

impl Fixture {
    fn payment(&self, amount: i64) -> WriteOp {
        WriteOp::Create {
            id: None,
            collection: self.collection("payments"),
            values: vec![
                ("amount".into(), Value::Integer(amount)),
                ("card".into(), Value::Text("4111-secret".into())),
            ],
            tenant: None,
        }
    }

    fn note(&self) -> WriteOp {
        WriteOp::Create {
            id: None,
            collection: self.collection("notes"),
            values: vec![("body".into(), Value::Text("hello".into()))],
            tenant: None,
        }
    }
}

fn created(results: &[WriteResult]) -> Uuid {
    match &results[0] {
        WriteResult::Created(record) => record.id,
        other => panic!("not a create: {other:?}"),
    }
}

/// The whole chain, oldest first.
async fn chain(store: &Store) -> Vec<AuditRecord> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |r: &AuditRecord| r.seq);
        let page = store.audit_chain(after, 100).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

async fn verify(store: &Store) -> Result<u64, fathom_store::audit::ChainBreak> {
    let mut verifier = Verifier::new();
    for record in chain(store).await {
        verifier.next(&record)?;
    }
    verifier.finish(&store.audit_head().await.unwrap())?;
    Ok(verifier.checked)
}

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        action: action.into(),
        outcome: "success".into(),
        ..AuditEntry::default()
    }
}

#[tokio::test]
async fn changes_to_an_audited_collection_are_logged_with_field_names_only() {
    let f = fixture().await;
    let user = Uuid::now_v7();
    let origin = Origin {
        actor: Actor::User(user),
        request_id: Some("req-1".into()),
    };
    let id = created(
        &f.store
            .execute(
                UnitOfWork::single(Scope::AllTenants, f.payment(5)).with_origin(origin.clone()),
            )
            .await
            .unwrap(),
    );
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.note()))
        .await
        .unwrap();
    let update = WriteOp::Update {
        collection: f.collection("payments"),
        id,
        values: vec![("card".into(), Value::Text("5500-secret".into()))],
        guard: None,
        expected_version: None,
    };
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, update).with_origin(origin.clone()))
        .await
        .unwrap();
    let delete = WriteOp::Delete {
        collection: f.collection("payments"),
        id,
        guard: None,
        expected_version: None,
    };
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, delete))
        .await
        .unwrap();
    let restore = WriteOp::Restore {
        collection: f.collection("payments"),
        id,
        guard: None,
        expected_version: None,
    };
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, restore))
        .await
        .unwrap();

    let mut log = chain(&f.store).await;
    // The migration that made the tables is the first entry, written in its own transaction.
    let migration = log.remove(0);
    assert_eq!(migration.entry.action, "schema_migrated");
    assert_eq!(migration.entry.target.as_deref(), Some("version 1"));
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "record.create",
            "record.update",
            "record.delete",
            "record.restore"
        ],
        "the notes collection is not audited"
    );
    let first = &log[0].entry;
    assert_eq!(first.collection.as_deref(), Some("payments"));
    assert_eq!(first.target, Some(id.to_string()));
    assert_eq!(first.actor, Some(user.to_string()));
    assert_eq!(first.request_id.as_deref(), Some("req-1"));
    assert_eq!(first.changed, ["amount", "card"]);
    assert_eq!(log[1].entry.changed, ["card"]);
    for record in &log {
        let text = format!("{record:?}");
        assert!(!text.contains("secret"), "a value leaked: {text}");
    }
    assert_eq!(verify(&f.store).await.unwrap(), 5);
}

#[tokio::test]
async fn a_failed_unit_of_work_leaves_no_audit_entry() {
    let f = fixture().await;
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.payment(1)))
        .await
        .unwrap();
    let mut failing = UnitOfWork::new(Scope::AllTenants);
    failing.ops = vec![
        f.payment(2),
        WriteOp::Delete {
            collection: f.collection("payments"),
            id: Uuid::now_v7(),
            guard: None,
            expected_version: None,
        },
    ];
    f.store.execute(failing).await.unwrap_err();
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.payment(3)))
        .await
        .unwrap();
    let seqs: Vec<i64> = chain(&f.store).await.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        [1, 2, 3],
        "the migration, then the two units that committed"
    );
    verify(&f.store).await.unwrap();
}

/// Writers on several tasks (and on PostgreSQL, two nodes on one database) append at once: the
/// sequence stays gap-free and every entry chains to the one before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_chain_stays_linear_under_concurrent_writers() {
    let f = fixture().await;
    let mut nodes = vec![f.store.clone()];
    if let Some(url) = f.postgres_url() {
        for _ in 0..2 {
            nodes.push(
                Store::open_postgres(fathom_store::PostgresOptions::new(url.clone()))
                    .await
                    .unwrap(),
            );
        }
    }
    let mut tasks = Vec::new();
    for n in 0..48usize {
        let store = nodes[n % nodes.len()].clone();
        let op = f.payment(i64::try_from(n).unwrap());
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                store.audit(entry(&format!("direct-{n}"))).await.unwrap();
            } else {
                let mut work = UnitOfWork::new(Scope::AllTenants);
                work.ops = vec![op.clone(), op];
                store.execute(work).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let log = chain(&f.store).await;
    assert_eq!(log.len(), 1 + 24 + 48, "the migration, then every append");
    assert!(log.iter().zip(1..).all(|(r, n)| r.seq == n));
    assert_eq!(verify(&f.store).await.unwrap(), 73);
}

#[tokio::test]
async fn pruning_leaves_a_checkpoint_and_a_chain_that_still_verifies() {
    let f = fixture().await;
    for n in 0..30 {
        f.store.audit(entry(&format!("e{n}"))).await.unwrap();
    }
    let count = AuditRetention {
        max_age: None,
        max_count: Some(10),
    };
    let mut removed = 0;
    loop {
        let step = f.store.prune_audit(count).await.unwrap();
        if step == 0 {
            break;
        }
        removed += step;
    }
    assert_eq!(removed, 21, "the migration's entry and our 20 oldest");
    let log = chain(&f.store).await;
    assert_eq!(log.first().unwrap().seq, 22);
    let checkpoint = log.last().unwrap();
    assert_eq!(checkpoint.entry.action, CHECKPOINT_ACTION);
    assert!(
        checkpoint
            .entry
            .detail
            .as_deref()
            .unwrap()
            .contains("\"pruned_through\":21")
    );
    assert_eq!(verify(&f.store).await.unwrap(), 11);
    // Pruning again finds nothing due: the checkpoint does not make room for itself.
    assert_eq!(f.store.prune_audit(count).await.unwrap(), 0);

    // By age: everything but the newest entry is older than a second (the newest stays young
    // while the steps run).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.store.audit(entry("fresh")).await.unwrap();
    let age = AuditRetention {
        max_age: Some(Duration::from_secs(1)),
        max_count: None,
    };
    while f.store.prune_audit(age).await.unwrap() > 0 {}
    let log = chain(&f.store).await;
    let actions: Vec<&str> = log.iter().map(|r| r.entry.action.as_str()).collect();
    assert_eq!(actions, ["fresh", CHECKPOINT_ACTION]);
    verify(&f.store).await.unwrap();

    // Removing the oldest remaining entry is still seen.
    let head = f.store.audit_head().await.unwrap();
    let mut verifier = Verifier::new();
    let broken = log[1..]
        .iter()
        .try_for_each(|r| verifier.next(r))
        .and_then(|()| verifier.finish(&head))
        .unwrap_err();
    assert_eq!(broken.kind, BreakKind::Removed);
}

/// The audit table as Fathom made it before the chain: rows numbered by the table, with a gap.
const LEGACY_ROWS: &str =
    "INSERT INTO \"_fathom_audit\" (\"seq\", \"at\", \"action\", \"outcome\", \"actor\") VALUES
    (1, '2026-01-01T00:00:00.000Z', 'login', 'success', 'a'),
    (3, '2026-01-02T00:00:00.000Z', 'login', 'failure', 'b');";

/// A data directory from before the chain opens with its entries chained in their order
/// (renumbered without gaps), and new entries continue the chain.
#[tokio::test]
async fn an_older_audit_table_is_chained_at_start_up() {
    if support::postgres() {
        let database = fathom_store::ScratchDatabase::create(&support::pg_admin_url())
            .await
            .unwrap();
        let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "CREATE TABLE \"_fathom_audit\" (\"seq\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                   \"at\" timestamptz NOT NULL, \"action\" text NOT NULL, \"outcome\" text NOT NULL,
                   \"actor\" text, \"target\" text, \"request_id\" text, \"ip\" text, \"detail\" text);
                 {}",
                LEGACY_ROWS.replace("VALUES", "OVERRIDING SYSTEM VALUE VALUES")
            ))
            .await
            .unwrap();
        let store = Store::open_postgres(fathom_store::PostgresOptions::new(database.url()))
            .await
            .unwrap();
        check_upgraded(&store).await;
    } else {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("legacy.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE \"_fathom_audit\" (\"seq\" INTEGER PRIMARY KEY AUTOINCREMENT,
               \"at\" TEXT NOT NULL, \"action\" TEXT NOT NULL, \"outcome\" TEXT NOT NULL,
               \"actor\" TEXT, \"target\" TEXT, \"request_id\" TEXT, \"ip\" TEXT, \"detail\" TEXT) STRICT;
             {LEGACY_ROWS}"
        ))
        .unwrap();
        drop(conn);
        let store = Store::open_sqlite(fathom_store::SqliteOptions::new(path))
            .await
            .unwrap();
        check_upgraded(&store).await;
    }
}

async fn check_upgraded(store: &Store) {
    store.audit(entry("after-upgrade")).await.unwrap();
    let log = chain(store).await;
    let summary: Vec<(i64, &str, Option<&str>)> = log
        .iter()
        .map(|r| (r.seq, r.entry.action.as_str(), r.entry.actor.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, "login", Some("a")),
            (2, "login", Some("b")),
            (3, "after-upgrade", None)
        ]
    );
    assert_eq!(log[1].at, "2026-01-02T00:00:00.000Z");
    assert_eq!(verify(store).await.unwrap(), 3);
}
