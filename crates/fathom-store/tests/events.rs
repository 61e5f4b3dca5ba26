//! The outbox, against `Store` alone on the backend of this run (SQLite, or PostgreSQL with
//! `FATHOM_TEST_BACKEND=postgres`): one event per changed record in the write's own
//! transaction, a gap-free sequence in commit order under concurrent writers with aborts, the
//! watch, and pruning.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use fathom_schema::Value;
use fathom_store::{
    Actor, EventOperation, Origin, Retention, Scope, Store, StoreErrorKind, UnitOfWork, WriteOp,
    WriteResult,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use uuid::Uuid;

mod support;

use support::Fixture;

const SCHEMA: &str = r#"
[collections.tags]
fields.name = { type = "text", required = true, unique = true }

[collections.notes]
soft_delete = true
tenant_scoped = true
fields.body   = { type = "text", required = true }
fields.secret = { type = "text", hidden = true }
"#;

async fn fixture() -> Fixture {
    Fixture::migrated("events", SCHEMA).await
}

impl Fixture {
    fn tag(&self, name: &str) -> WriteOp {
        WriteOp::Create {
            id: None,
            collection: self.collection("tags"),
            values: vec![("name".into(), Value::Text(name.into()))],
            tenant: None,
        }
    }
}

fn created(results: &[WriteResult]) -> Vec<Uuid> {
    results
        .iter()
        .filter_map(|r| match r {
            WriteResult::Created(record) => Some(record.id),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_change_appends_one_event_in_order_with_its_fields_and_origin() {
    let f = fixture().await;
    let page = f.store.events_after(0, 100, None).await.unwrap();
    assert_eq!((page.events.len(), page.oldest, page.latest), (0, 0, 0));
    let user = Uuid::now_v7();
    let origin = Origin {
        actor: Actor::User(user),
        request_id: Some("req-1".into()),
    };
    let notes = f.collection("notes");
    let work = UnitOfWork::single(
        Scope::Tenant("acme".into()),
        WriteOp::Create {
            id: None,
            collection: notes.clone(),
            values: vec![
                ("body".into(), Value::Text("hello".into())),
                ("secret".into(), Value::Text("s3".into())),
            ],
            tenant: None,
        },
    )
    .with_origin(origin.clone());
    let note = created(&f.store.execute(work).await.unwrap())[0];
    let update = UnitOfWork::single(
        Scope::Tenant("acme".into()),
        WriteOp::Update {
            collection: notes.clone(),
            id: note,
            values: vec![("body".into(), Value::Text("changed".into()))],
            guard: None,
            expected_version: None,
        },
    );
    f.store.execute(update).await.unwrap();
    // An update that changes nothing is no event.
    let nothing = UnitOfWork::single(
        Scope::Tenant("acme".into()),
        WriteOp::Update {
            collection: notes.clone(),
            id: note,
            values: vec![],
            guard: None,
            expected_version: None,
        },
    );
    f.store.execute(nothing).await.unwrap();
    let soft = UnitOfWork::single(
        Scope::Tenant("acme".into()),
        WriteOp::Delete {
            collection: notes.clone(),
            id: note,
            guard: None,
            expected_version: None,
        },
    );
    f.store.execute(soft).await.unwrap();
    // A batch: one event per record, in operation order; a hard delete keeps no record.
    let mut batch = UnitOfWork::new(Scope::AllTenants);
    batch.ops = vec![f.tag("a"), f.tag("b")];
    let tags = created(&f.store.execute(batch).await.unwrap());
    let hard = UnitOfWork::single(
        Scope::AllTenants,
        WriteOp::Delete {
            collection: f.collection("tags"),
            id: tags[0],
            guard: None,
            expected_version: None,
        },
    );
    f.store.execute(hard).await.unwrap();

    let page = f.store.events_after(0, 100, None).await.unwrap();
    let seqs: Vec<i64> = page.events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!((page.oldest, page.latest), (1, 6));
    let ops: Vec<(EventOperation, &str, i64)> = page
        .events
        .iter()
        .map(|e| (e.operation, e.collection.as_str(), e.version))
        .collect();
    assert_eq!(
        ops,
        [
            (EventOperation::Create, "notes", 1),
            (EventOperation::Update, "notes", 2),
            (EventOperation::Delete, "notes", 3),
            (EventOperation::Create, "tags", 1),
            (EventOperation::Create, "tags", 1),
            (EventOperation::Delete, "tags", 1),
        ]
    );
    let first = &page.events[0];
    assert_eq!(first.record_id, note);
    assert_eq!(first.tenant.as_deref(), Some("acme"));
    assert_eq!(first.actor, Actor::User(user));
    assert_eq!(first.request_id.as_deref(), Some("req-1"));
    assert_eq!(first.changed, ["body", "secret"]);
    let record = first.record.as_ref().unwrap();
    // The outbox keeps every field, hidden ones too: readers strip them.
    assert_eq!(record["secret"], "s3");
    assert_eq!(record["id"], note.to_string());
    assert_eq!(record["version"], 1);
    assert_eq!(page.events[1].changed, ["body"]);
    assert_eq!(page.events[1].record.as_ref().unwrap()["body"], "changed");
    assert_eq!(page.events[1].actor, Actor::System);
    assert!(page.events[2].changed.is_empty());
    assert!(
        page.events[2].record.is_some(),
        "a soft delete keeps the record"
    );
    assert_eq!(
        page.events[5].record, None,
        "a hard delete has no record after"
    );
    assert_eq!(page.events[5].record_id, tags[0]);
    assert!(
        page.events
            .windows(2)
            .all(|w| w[0].committed_at <= w[1].committed_at)
    );
    let ids: HashSet<Uuid> = page.events.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 6, "every event has its own id");

    // A tenant reads its own events only; paging follows `after` and `limit`.
    let acme = f.store.events_after(0, 100, Some("acme")).await.unwrap();
    assert_eq!(acme.events.len(), 3);
    assert!(
        f.store
            .events_after(0, 100, Some("other"))
            .await
            .unwrap()
            .events
            .is_empty()
    );
    let page = f.store.events_after(2, 2, None).await.unwrap();
    let seqs: Vec<i64> = page.events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [3, 4]);

    // A schema change is no record event.
    let grown = fathom_schema::parse_schema(
        "events.toml",
        &format!("{SCHEMA}\n[collections.extra]\nfields.x = {{ type = \"text\" }}\n"),
    )
    .unwrap();
    assert!(
        !f.store
            .migrate(&grown, false)
            .await
            .unwrap()
            .steps
            .is_empty()
    );
    assert_eq!(f.store.events_after(0, 100, None).await.unwrap().latest, 6);
}

#[tokio::test]
async fn a_failed_unit_of_work_leaves_no_event_and_no_gap() {
    let f = fixture().await;
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.tag("a")))
        .await
        .unwrap();
    // The second create of "a" fails: the whole batch, and its events, roll back.
    let mut batch = UnitOfWork::new(Scope::AllTenants);
    batch.ops = vec![f.tag("b"), f.tag("c"), f.tag("a")];
    let error = f.store.execute(batch).await.unwrap_err();
    assert!(matches!(error.kind, StoreErrorKind::UniqueViolation { .. }));
    // An update of a record that does not exist fails too.
    let missing = UnitOfWork::single(
        Scope::AllTenants,
        WriteOp::Update {
            collection: f.collection("tags"),
            id: Uuid::now_v7(),
            values: vec![("name".into(), Value::Text("z".into()))],
            guard: None,
            expected_version: None,
        },
    );
    assert!(f.store.execute(missing).await.is_err());
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.tag("d")))
        .await
        .unwrap();
    let page = f.store.events_after(0, 100, None).await.unwrap();
    let seqs: Vec<i64> = page.events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [1, 2], "the failed batch's numbers were given back");
    let names: Vec<&serde_json::Value> = page
        .events
        .iter()
        .map(|e| &e.record.as_ref().unwrap()["name"])
        .collect();
    assert_eq!(names, ["a", "d"]);
}

#[tokio::test]
async fn the_watch_follows_commits() {
    let f = fixture().await;
    let mut watch = f.store.event_watch();
    assert_eq!(*watch.borrow_and_update(), 0);
    let mut batch = UnitOfWork::new(Scope::AllTenants);
    batch.ops = vec![f.tag("a"), f.tag("b")];
    f.store.execute(batch).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), watch.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*watch.borrow_and_update(), 2);
}

#[tokio::test]
async fn pruning_keeps_the_newest_events_and_never_the_sequence_restarts() {
    let f = fixture().await;
    for n in 0..10 {
        f.store
            .execute(UnitOfWork::single(
                Scope::AllTenants,
                f.tag(&format!("t{n}")),
            ))
            .await
            .unwrap();
    }
    let keep_three = Retention {
        max_age: Duration::from_secs(3600),
        max_count: 3,
    };
    assert_eq!(
        f.store.prune_events(keep_three, Vec::new()).await.unwrap(),
        7
    );
    assert_eq!(
        f.store.prune_events(keep_three, Vec::new()).await.unwrap(),
        0
    );
    let page = f.store.events_after(0, 100, None).await.unwrap();
    assert_eq!((page.oldest, page.latest, page.events.len()), (8, 10, 3));
    // Past the age limit everything but the latest goes; the next event is still 11.
    let keep_nothing_old = Retention {
        max_age: Duration::ZERO,
        max_count: 1_000_000,
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        f.store
            .prune_events(keep_nothing_old, Vec::new())
            .await
            .unwrap(),
        2
    );
    let page = f.store.events_after(0, 100, None).await.unwrap();
    assert_eq!((page.oldest, page.latest), (10, 10));
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.tag("last")))
        .await
        .unwrap();
    let page = f.store.events_after(10, 100, None).await.unwrap();
    assert_eq!(page.events[0].sequence, 11);
}

#[tokio::test]
async fn pruning_never_passes_a_cursor_that_holds_events() {
    let f = fixture().await;
    for n in 0..10 {
        f.store
            .execute(UnitOfWork::single(
                Scope::AllTenants,
                f.tag(&format!("t{n}")),
            ))
            .await
            .unwrap();
    }
    // Two consumers behind (one at 3, one at 6) and one that does not hold (say a disabled
    // endpoint's, at 1): past the age limit, only what every holder delivered goes.
    f.store.cursor_init("webhook:slow", 3).await.unwrap();
    f.store.cursor_init("nats:fast", 6).await.unwrap();
    f.store.cursor_init("webhook:off", 1).await.unwrap();
    let held = vec!["webhook:slow".to_owned(), "nats:fast".to_owned()];
    let keep_nothing_old = Retention {
        max_age: Duration::ZERO,
        max_count: 1,
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        f.store
            .prune_events(keep_nothing_old, held.clone())
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        f.store
            .prune_events(keep_nothing_old, held.clone())
            .await
            .unwrap(),
        0
    );
    assert_eq!(f.store.events_after(0, 100, None).await.unwrap().oldest, 4);
    // The slow consumer delivers up to 8: the bound moves to the fast one's position, 6.
    let mut lease = f
        .store
        .cursor_acquire("webhook:slow", "node", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    f.store.cursor_advance(&mut lease, 8).await.unwrap();
    assert_eq!(
        f.store
            .prune_events(keep_nothing_old, held.clone())
            .await
            .unwrap(),
        3
    );
    assert_eq!(f.store.events_after(0, 100, None).await.unwrap().oldest, 7);
    // A name with no cursor holds nothing; without holders the latest event alone stays.
    let page = f.store.events_after(0, 100, None).await.unwrap();
    assert_eq!(page.latest, 10);
    assert_eq!(
        f.store
            .prune_events(keep_nothing_old, vec!["webhook:gone".to_owned()])
            .await
            .unwrap(),
        3
    );
    assert_eq!(f.store.events_after(0, 100, None).await.unwrap().oldest, 10);
}

/// One writer's plan: units of work, each some creates after a delay, and perhaps doomed by a
/// duplicate name (which rolls the whole unit back).
#[derive(Debug, Clone)]
struct Plan {
    units: Vec<(u8, u8, bool)>,
}

fn plans() -> impl Strategy<Value = Vec<Plan>> {
    let unit = (1u8..=4, 0u8..=3, prop::bool::weighted(0.25));
    let plan = prop::collection::vec(unit, 5..=15).prop_map(|units| Plan { units });
    prop::collection::vec(plan, 4..=8)
}

/// Runs the writers of `plans` against a fresh store while a tailer follows the watch, and
/// checks the outbox: the tailer only ever saw `last + 1, last + 2, ...` (never a gap filled
/// later), the final sequence is exactly 1..=N, and every committed record has one event.
async fn run_concurrently(plans: Vec<Plan>) {
    let f = Arc::new(fixture().await);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tailer = {
        let store = f.store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut watch = store.event_watch();
            let mut seen = 0i64;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                loop {
                    let page = store.events_after(seen, 50, None).await.unwrap();
                    for event in &page.events {
                        assert_eq!(
                            event.sequence,
                            seen + 1,
                            "the tailer saw {} right after {seen}: a gap",
                            event.sequence
                        );
                        seen = event.sequence;
                    }
                    assert!(seen <= page.latest, "an event beyond latest");
                    if page.events.is_empty() {
                        break;
                    }
                }
                if finished {
                    return seen;
                }
                let _ = tokio::time::timeout(Duration::from_millis(20), watch.changed()).await;
            }
        })
    };
    let mut writers = Vec::new();
    for (w, plan) in plans.into_iter().enumerate() {
        let f = f.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for (u, (creates, delay, doomed)) in plan.units.into_iter().enumerate() {
                tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
                let mut work = UnitOfWork::new(Scope::AllTenants);
                for c in 0..creates {
                    work.ops.push(f.tag(&format!("w{w}-u{u}-c{c}")));
                }
                if doomed {
                    // The same name twice in one unit: a unique violation at the end.
                    work.ops.push(f.tag(&format!("w{w}-u{u}-c0")));
                }
                match f.store.execute(work).await {
                    Ok(results) => committed.extend(created(&results)),
                    Err(e) => {
                        assert!(doomed, "an undoomed unit failed: {e:?}");
                        assert!(matches!(e.kind, StoreErrorKind::UniqueViolation { .. }));
                    }
                }
            }
            committed
        }));
    }
    let mut committed = Vec::new();
    for writer in writers {
        committed.extend(writer.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = tailer.await.unwrap();
    let total = i64::try_from(committed.len()).unwrap();
    assert_eq!(seen, total, "the tailer saw every event");
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = f.store.events_after(after, 1000, None).await.unwrap();
        let Some(last) = page.events.last() else {
            break;
        };
        after = last.sequence;
        events.extend(page.events);
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    let mut per_record: HashMap<Uuid, usize> = HashMap::new();
    for event in &events {
        *per_record.entry(event.record_id).or_default() += 1;
    }
    assert_eq!(per_record.len(), committed.len());
    assert!(committed.iter().all(|id| per_record.get(id) == Some(&1)));
}

#[test]
fn concurrent_writers_with_aborts_yield_a_gap_free_sequence_in_commit_order() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 6,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&plans(), |plans| {
            runtime.block_on(run_concurrently(plans));
            Ok(())
        })
        .unwrap();
}

/// Two stores on one PostgreSQL database are two nodes: each one's watch learns of the other's
/// commits (NOTIFY, or the poll), and both read the same sequence. PostgreSQL only: a SQLite
/// file is served by one process.
#[tokio::test]
async fn on_postgres_a_node_learns_of_another_nodes_events() {
    let f = fixture().await;
    let Some(url) = f.postgres_url() else {
        return;
    };
    let other = Store::open_postgres(fathom_store::PostgresOptions::new(url))
        .await
        .unwrap();
    let mut here = f.store.event_watch();
    let mut there = other.event_watch();
    other
        .execute(UnitOfWork::single(Scope::AllTenants, f.tag("from-b")))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(3), here.wait_for(|n| *n >= 1))
        .await
        .expect("node A learns of node B's event")
        .unwrap();
    f.store
        .execute(UnitOfWork::single(Scope::AllTenants, f.tag("from-a")))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(3), there.wait_for(|n| *n >= 2))
        .await
        .expect("node B learns of node A's event")
        .unwrap();
    let a = f.store.events_after(0, 10, None).await.unwrap();
    let b = other.events_after(0, 10, None).await.unwrap();
    assert_eq!(a.events, b.events);
    assert_eq!(a.events.len(), 2);
    // The wake-up is the NOTIFY, not the 1 s poll behind it: five commits in a row each reach
    // the other node well within half a second (by the poll alone, all five would have one
    // chance in 32).
    for n in 0..5 {
        let started = std::time::Instant::now();
        other
            .execute(UnitOfWork::single(
                Scope::AllTenants,
                f.tag(&format!("ping-{n}")),
            ))
            .await
            .unwrap();
        here.wait_for(|seen| *seen >= 3 + n).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "node A waited {:?} for event {}",
            started.elapsed(),
            3 + n
        );
    }
}

/// A hard delete's cascades and cleared references are changes too: each gets its event, in
/// the same transaction, children before their parent.
#[tokio::test]
async fn cascaded_deletes_and_cleared_references_have_their_events() {
    let database = support::open("cascade").await;
    let store = database.store.clone();
    let schema = fathom_schema::parse_schema(
        "cascade.toml",
        r#"
[collections.authors]
fields.name = { type = "text", required = true }

[collections.books]
fields.title  = { type = "text", required = true }
fields.author = { type = "relation", collection = "authors", required = true, on_delete = "cascade" }

[collections.reviews]
fields.stars = { type = "integer", required = true }
fields.book  = { type = "relation", collection = "books", required = true, on_delete = "cascade" }

[collections.fans]
fields.name     = { type = "text", required = true }
fields.favorite = { type = "relation", collection = "authors", on_delete = "set_null" }
"#,
    )
    .unwrap();
    store.migrate(&schema, false).await.unwrap();
    let create = |collection: &str, values: Vec<(&str, Value)>| WriteOp::Create {
        id: None,
        collection: schema.collection(collection).unwrap().clone(),
        values: values.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
        tenant: None,
    };
    let one = |op| UnitOfWork::single(Scope::AllTenants, op);
    let author = created(
        &store
            .execute(one(create(
                "authors",
                vec![("name", Value::Text("Ann".into()))],
            )))
            .await
            .unwrap(),
    )[0];
    let text = |id: Uuid| Value::Text(id.to_string());
    let book = created(
        &store
            .execute(one(create(
                "books",
                vec![("title", Value::Text("B".into())), ("author", text(author))],
            )))
            .await
            .unwrap(),
    )[0];
    let review = created(
        &store
            .execute(one(create(
                "reviews",
                vec![("stars", Value::Integer(5)), ("book", text(book))],
            )))
            .await
            .unwrap(),
    )[0];
    let fan = created(
        &store
            .execute(one(create(
                "fans",
                vec![
                    ("name", Value::Text("F".into())),
                    ("favorite", text(author)),
                ],
            )))
            .await
            .unwrap(),
    )[0];
    let before = store.events_after(0, 100, None).await.unwrap().latest;
    assert_eq!(before, 4);

    store
        .execute(one(WriteOp::Delete {
            collection: schema.collection("authors").unwrap().clone(),
            id: author,
            guard: None,
            expected_version: None,
        }))
        .await
        .unwrap();
    let page = store.events_after(before, 100, None).await.unwrap();
    let changes: Vec<(EventOperation, &str, Uuid, i64)> = page
        .events
        .iter()
        .map(|e| (e.operation, e.collection.as_str(), e.record_id, e.version))
        .collect();
    assert_eq!(
        changes,
        [
            (EventOperation::Delete, "reviews", review, 1),
            (EventOperation::Delete, "books", book, 1),
            (EventOperation::Update, "fans", fan, 2),
            (EventOperation::Delete, "authors", author, 1),
        ]
    );
    let cleared = &page.events[2];
    assert_eq!(cleared.changed, ["favorite"]);
    assert_eq!(
        cleared.record.as_ref().unwrap()["favorite"],
        serde_json::Value::Null
    );
    let fan_now = store
        .get(
            &Scope::AllTenants,
            schema.collection("fans").unwrap().clone(),
            fan,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fan_now.version, 2, "the cleared reference is a new version");
}
