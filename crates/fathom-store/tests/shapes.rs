//! Query shapes recorded by the store, on the backend of this run (SQLite, or PostgreSQL with
//! `FATHOM_TEST_BACKEND=postgres`): every get, list and count counted under its shape with its
//! figures, no value ever recorded, shapes persisted by a flush and merged across two stores on
//! one database, and the book held to its bound under a flood of distinct shapes.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use fathom_query::{Env, Filter, check, parse, parse_sort};
use fathom_schema::Value;
use fathom_store::shapes::{ShapeKind, ShapeReport};
use fathom_store::{ListQuery, Scope, Store, UnitOfWork, WriteOp};

mod support;

use support::Fixture;

const SCHEMA: &str = r#"
[collections.tasks]
fields.title    = { type = "text" }
fields.status   = { type = "enum", values = ["open", "done"] }
fields.priority = { type = "integer" }
"#;

async fn fixture(rows: i64) -> Fixture {
    let f = Fixture::migrated("shapes", SCHEMA).await;
    let ops = (0..rows)
        .map(|n| WriteOp::Create {
            id: None,
            collection: f.collection("tasks"),
            values: vec![
                ("title".into(), Value::Text(format!("task {n}"))),
                (
                    "status".into(),
                    Value::Text(if n % 2 == 0 { "open" } else { "done" }.into()),
                ),
                ("priority".into(), Value::Integer(n % 5)),
            ],
            tenant: None,
        })
        .collect();
    if rows > 0 {
        f.store
            .execute(UnitOfWork {
                ops,
                ..UnitOfWork::new(Scope::AllTenants)
            })
            .await
            .unwrap();
    }
    f
}

fn filter(f: &Fixture, source: &str) -> Filter {
    let expr = parse(source).unwrap();
    check(
        &expr,
        source,
        &f.schema,
        &f.collection("tasks"),
        &Env::default(),
    )
    .unwrap()
}

fn list_query(f: &Fixture, source: &str, sort: &str, limit: u32) -> ListQuery {
    ListQuery {
        filter: Some(filter(f, source)),
        sort: parse_sort(sort, &f.collection("tasks")).unwrap(),
        ..ListQuery::first(limit)
    }
}

async fn list(store: &Store, f: &Fixture, source: &str, sort: &str) -> usize {
    store
        .list(
            &Scope::AllTenants,
            f.collection("tasks"),
            list_query(f, source, sort, 100),
        )
        .await
        .unwrap()
        .len()
}

fn find<'a>(reports: &'a [ShapeReport], kind: ShapeKind, text: &str) -> &'a ShapeReport {
    reports
        .iter()
        .find(|r| r.shape.kind == kind && r.shape.filter == text)
        .unwrap_or_else(|| panic!("no {kind:?} shape `{text}` in {reports:#?}"))
}

#[tokio::test]
async fn every_read_is_counted_under_its_shape() {
    let f = fixture(40).await;
    let store = f.store.clone().with_shape_book(true, 1000);
    let mut returned = 0;
    for status in ["open", "done", "open"] {
        returned += list(&store, &f, &format!("status = \"{status}\""), "-priority").await;
    }
    assert_eq!(returned, 40 + 20);
    let tasks = f.collection("tasks");
    let mut counted = 0;
    for priority in [1, 3] {
        counted += store
            .count(
                &Scope::AllTenants,
                tasks.clone(),
                Some(filter(&f, &format!("priority >= {priority}"))),
            )
            .await
            .unwrap();
    }
    let some = store
        .list(&Scope::AllTenants, tasks.clone(), ListQuery::first(4))
        .await
        .unwrap();
    for record in &some {
        store
            .get(&Scope::AllTenants, tasks.clone(), record.id)
            .await
            .unwrap()
            .unwrap();
    }
    let reports = store.query_shapes().await.unwrap();

    let listed = find(&reports, ShapeKind::List, "status = ?");
    assert_eq!(listed.stats.calls, 3);
    assert_eq!(listed.stats.rows_returned, 60);
    assert_eq!(listed.shape.collection, "tasks");
    assert_eq!(listed.shape.conditions.len(), 1);
    assert_eq!(
        (
            listed.shape.conditions[0].path.as_str(),
            listed.shape.conditions[0].op.as_str()
        ),
        ("status", "=")
    );
    assert!(listed.shape.conjunctive);
    let sort: Vec<(&str, bool)> = listed
        .shape
        .sort
        .iter()
        .map(|s| (s.path.as_str(), s.descending))
        .collect();
    assert_eq!(sort, [("priority", true), ("id", false)]);
    assert_eq!(listed.shape.page_size, Some(128));
    assert!(!listed.shape.offset && !listed.shape.cursor && !listed.shape.tenant_scoped);
    let s = &listed.stats;
    assert!(s.p50_micros <= s.p95_micros && s.p95_micros <= s.p99_micros);
    assert!(s.p99_micros <= s.max_micros && s.max_micros <= s.total_micros);
    assert!(s.last_seen_ms > 0);

    let count = find(&reports, ShapeKind::Count, "priority >= ?");
    assert_eq!(count.stats.calls, 2);
    assert_eq!(count.stats.rows_returned, counted);
    assert_eq!(count.shape.page_size, None);

    let get = find(&reports, ShapeKind::Get, "id = ?");
    assert_eq!((get.stats.calls, get.stats.rows_returned), (4, 4));

    let first = find(&reports, ShapeKind::List, "");
    assert_eq!(first.stats.calls, 1);
    assert_eq!(first.shape.page_size, Some(4));

    if support::postgres() {
        assert_eq!(listed.stats.rows_visited, None);
        assert_eq!(listed.stats.sorts, None);
    } else {
        // No index serves `status`: every call scans the 40 rows (SQLite counts the steps
        // from one row to the next, 39), and sorts by priority.
        assert_eq!(listed.stats.rows_visited, Some(3 * 39));
        assert_eq!(listed.stats.sorts, Some(3));
        // A get by primary key scans nothing and sorts nothing.
        assert_eq!(
            (get.stats.rows_visited, get.stats.sorts),
            (Some(0), Some(0))
        );
    }
    // The busiest shape comes first.
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].stats.calls >= w[1].stats.calls)
    );
}

#[tokio::test]
async fn a_shape_holds_no_value_in_memory_or_persisted() {
    let f = fixture(3).await;
    let store = f.store.clone().with_shape_book(true, 1000);
    let secret = "sk_live_7Hq9SECRETzz";
    list(
        &store,
        &f,
        &format!("title = \"{secret}\" || (priority > 31337 && title ~ \"hunter2\")"),
        "title",
    )
    .await;
    let before = serde_json::to_string(&store.query_shapes().await.unwrap()).unwrap();
    assert!(
        before.contains("title = ? || (priority > ? && title ~ ?)"),
        "{before}"
    );
    store.flush_shapes().await.unwrap();
    let reader = f.second_node("shapes").await;
    let after = serde_json::to_string(&reader.query_shapes().await.unwrap()).unwrap();
    assert!(
        after.contains("title = ? || (priority > ? && title ~ ?)"),
        "{after}"
    );
    for text in [&before, &after] {
        for value in [secret, "SECRET", "31337", "hunter2"] {
            assert!(!text.contains(value), "{value} recorded in {text}");
        }
    }
}

#[tokio::test]
async fn flushed_shapes_persist_and_merge_across_two_stores_on_one_database() {
    let f = fixture(10).await;
    let node_a = f.store.clone().with_shape_book(true, 1000);
    let node_b = f.second_node("shapes").await;
    for _ in 0..3 {
        list(&node_a, &f, "status = \"open\"", "title").await;
    }
    for _ in 0..2 {
        list(&node_b, &f, "status = \"done\"", "title").await;
    }
    // Before any flush each node sees its own calls only.
    let a = node_a.query_shapes().await.unwrap();
    assert_eq!(find(&a, ShapeKind::List, "status = ?").stats.calls, 3);

    assert_eq!(node_a.flush_shapes().await.unwrap(), 1);
    assert_eq!(node_b.flush_shapes().await.unwrap(), 1);
    // Nothing new since: a flush writes nothing and changes nothing.
    assert_eq!(node_a.flush_shapes().await.unwrap(), 0);
    list(&node_a, &f, "status = \"done\"", "title").await;

    let from_a = node_a.query_shapes().await.unwrap();
    let from_b = node_b.query_shapes().await.unwrap();
    let merged_a = find(&from_a, ShapeKind::List, "status = ?");
    let merged_b = find(&from_b, ShapeKind::List, "status = ?");
    // A sees both nodes' flushed calls plus its own pending one; B the flushed ones.
    assert_eq!(merged_a.stats.calls, 6);
    assert_eq!(merged_b.stats.calls, 5);
    assert_eq!(merged_b.stats.rows_returned, 5 * 5);
    assert!(merged_a.stats.max_micros >= merged_b.stats.max_micros);
    let s = &merged_b.stats;
    assert!(s.p50_micros <= s.p95_micros && s.p95_micros <= s.p99_micros);
    assert!(s.p99_micros <= s.max_micros);
    if !support::postgres() {
        // Five full scans of ten rows: nine steps each.
        assert_eq!(merged_b.stats.rows_visited, Some(5 * 9));
    }

    // A third store (`fathom advise` run beside the server) sees the persisted figures.
    node_a.flush_shapes().await.unwrap();
    let advisor = f.second_node("shapes").await;
    let seen = advisor.query_shapes().await.unwrap();
    assert_eq!(find(&seen, ShapeKind::List, "status = ?").stats.calls, 6);
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn the_book_stays_at_its_bound_under_a_flood_of_distinct_shapes() {
    let f = fixture(2).await;
    let store = f.store.clone().with_shape_book(true, 1000);
    let tasks = f.collection("tasks");
    // A busy shape recorded before the flood: least-used eviction keeps it.
    for _ in 0..5 {
        list(&store, &f, "status = \"open\"", "title").await;
    }
    for n in 0..10_000 {
        // Each expand path list is a distinct shape.
        store
            .list_expanding(
                &Scope::AllTenants,
                tasks.clone(),
                ListQuery::first(1),
                fathom_store::Deleted::Hidden,
                &[format!("flood{n}")],
            )
            .await
            .unwrap();
        assert!(store.shape_book().len() <= 1000);
    }
    let book = store.shape_book();
    let held = book.len();
    assert_eq!(held, 1000);
    assert_eq!(book.evicted(), 10_001 - 1000);
    let reports = store.query_shapes().await.unwrap();
    assert_eq!(find(&reports, ShapeKind::List, "status = ?").stats.calls, 5);
    // The persisted table is held to the same bound.
    store.flush_shapes().await.unwrap();
    let persisted = f.second_node("shapes").await.query_shapes().await.unwrap();
    assert!(persisted.len() <= 1000, "{} persisted", persisted.len());
    assert_eq!(
        find(&persisted, ShapeKind::List, "status = ?").stats.calls,
        5
    );
}

#[tokio::test]
async fn recording_turned_off_records_nothing() {
    let f = fixture(2).await;
    let store = f.store.clone().with_shape_book(false, 1000);
    list(&store, &f, "status = \"open\"", "title").await;
    assert!(store.shape_book().is_empty());
    assert_eq!(store.flush_shapes().await.unwrap(), 0);
    assert!(store.query_shapes().await.unwrap().is_empty());
}

#[tokio::test]
async fn expand_paths_offsets_and_cursors_are_part_of_the_shape() {
    let f = fixture(6).await;
    let store = f.store.clone().with_shape_book(true, 1000);
    let tasks = f.collection("tasks");
    let run = |query: ListQuery, expand: Vec<String>| {
        let store = store.clone();
        let tasks = tasks.clone();
        async move {
            store
                .list_expanding(
                    &Scope::AllTenants,
                    tasks,
                    query,
                    fathom_store::Deleted::Hidden,
                    &expand,
                )
                .await
                .unwrap()
        }
    };
    let page = run(list_query(&f, "priority > 0", "title", 2), vec![]).await;
    let last = page.last().unwrap();
    let sort = parse_sort("title", &tasks).unwrap();
    run(
        ListQuery {
            after: Some(last.sort_values(&sort)),
            ..list_query(&f, "priority > 3", "title", 2)
        },
        vec![],
    )
    .await;
    run(
        ListQuery {
            offset: 2,
            ..list_query(&f, "priority > 1", "title", 2)
        },
        vec!["owner".into()],
    )
    .await;
    let reports = store.query_shapes().await.unwrap();
    let shapes: Vec<(bool, bool, Vec<String>)> = reports
        .iter()
        .filter(|r| r.shape.filter == "priority > ?")
        .map(|r| (r.shape.cursor, r.shape.offset, r.shape.expand.clone()))
        .collect();
    assert_eq!(shapes.len(), 3, "{reports:#?}");
    for expected in [
        (false, false, vec![]),
        (true, false, vec![]),
        (false, true, vec!["owner".to_owned()]),
    ] {
        assert!(shapes.contains(&expected), "{expected:?} in {shapes:?}");
    }
    assert!(reports.iter().all(|r| r.stats.calls == 1));
}
