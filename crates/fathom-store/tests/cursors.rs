//! Delivery cursors, against `Store` alone on the backend of this run (SQLite, or PostgreSQL
//! with `FATHOM_TEST_BACKEND=postgres`): leases taken, renewed, refused, expired and taken over;
//! advances fenced by the generation; set, release, remove and listing; and, on PostgreSQL,
//! many nodes racing for one lease with exactly one winner.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::time::Duration;

use fathom_store::Store;

mod support;

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_free_cursor_is_leased_renewed_by_its_holder_and_refused_to_others() {
    let db = support::open("cursors").await;
    let store = &db.store;
    let lease = store
        .cursor_acquire("webhook:a", "node-1", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((lease.position, lease.generation), (0, 1));
    assert_eq!(lease.holder, "node-1");
    assert!(
        store
            .cursor_acquire("webhook:a", "node-2", LONG)
            .await
            .unwrap()
            .is_none()
    );
    let renewed = store
        .cursor_acquire("webhook:a", "node-1", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed.generation, 1, "a renewal is not a takeover");
    assert!(renewed.until_ms >= lease.until_ms);
    // Other cursors are independent.
    assert!(
        store
            .cursor_acquire("webhook:b", "node-2", LONG)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn only_the_current_holder_advances_and_an_expired_lease_is_taken_over() {
    let db = support::open("cursors").await;
    let store = &db.store;
    let mut first = store
        .cursor_acquire("nats:orders", "node-1", Duration::from_millis(200))
        .await
        .unwrap()
        .unwrap();
    assert!(store.cursor_advance(&mut first, 5).await.unwrap());
    assert_eq!(first.position, 5);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let mut second = store
        .cursor_acquire("nats:orders", "node-2", LONG)
        .await
        .unwrap()
        .expect("an expired lease is free");
    assert_eq!(
        second.position, 5,
        "the new holder resumes where the old one left"
    );
    assert_eq!(second.generation, first.generation + 1);
    assert!(
        !store.cursor_advance(&mut first, 9).await.unwrap(),
        "the old holder's advance is refused"
    );
    assert_eq!(first.position, 5);
    assert!(store.cursor_advance(&mut second, 7).await.unwrap());
    // The old holder cannot take it back while the new lease runs.
    assert!(
        store
            .cursor_acquire("nats:orders", "node-1", LONG)
            .await
            .unwrap()
            .is_none()
    );
    let state = store.cursor_get("nats:orders").await.unwrap().unwrap();
    assert_eq!(state.position, 7);
    assert_eq!(state.holder.as_deref(), Some("node-2"));
    assert!(state.lease_until_ms.is_some());
}

#[tokio::test]
async fn set_moves_the_cursor_under_its_holder_who_must_reacquire() {
    let db = support::open("cursors").await;
    let store = &db.store;
    let mut lease = store
        .cursor_acquire("webhook:x", "node-1", LONG)
        .await
        .unwrap()
        .unwrap();
    assert!(store.cursor_advance(&mut lease, 40).await.unwrap());
    store.cursor_set("webhook:x", 10).await.unwrap();
    assert!(
        !store.cursor_advance(&mut lease, 41).await.unwrap(),
        "a set fences the holder's stale position"
    );
    let mut again = store
        .cursor_acquire("webhook:x", "node-1", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.position, 10);
    assert!(store.cursor_advance(&mut again, 11).await.unwrap());
    assert_eq!(
        store
            .cursor_get("webhook:x")
            .await
            .unwrap()
            .unwrap()
            .position,
        11
    );
}

#[tokio::test]
async fn init_keeps_an_existing_position_release_frees_and_remove_deletes() {
    let db = support::open("cursors").await;
    let store = &db.store;
    assert_eq!(store.cursor_init("webhook:y", 30).await.unwrap(), 30);
    assert_eq!(store.cursor_init("webhook:y", 99).await.unwrap(), 30);
    let lease = store
        .cursor_acquire("webhook:y", "node-1", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.position, 30);
    store.cursor_release(&lease).await.unwrap();
    let state = store.cursor_get("webhook:y").await.unwrap().unwrap();
    assert_eq!((state.holder, state.lease_until_ms), (None, None));
    let other = store
        .cursor_acquire("webhook:y", "node-2", LONG)
        .await
        .unwrap();
    assert!(other.is_some(), "a released lease is free at once");
    store.cursor_set("webhook:z", 3).await.unwrap();
    let names: Vec<String> = store
        .cursor_list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["webhook:y", "webhook:z"]);
    assert!(store.cursor_remove("webhook:y").await.unwrap());
    assert!(!store.cursor_remove("webhook:y").await.unwrap());
    assert!(store.cursor_get("webhook:y").await.unwrap().is_none());
}

/// Several nodes on one PostgreSQL database race for the same free lease, again and again:
/// each round exactly one wins. PostgreSQL only: a SQLite file is served by one process (whose
/// single writer serialises the race anyway; the tests above cover its answers).
#[tokio::test]
async fn on_postgres_racing_nodes_get_exactly_one_lease() {
    let db = support::open("cursors").await;
    let Some(url) = db.postgres_url() else {
        return;
    };
    let mut nodes = vec![db.store.clone()];
    for _ in 0..3 {
        nodes.push(
            Store::open_postgres(fathom_store::PostgresOptions::new(url.clone()))
                .await
                .unwrap(),
        );
    }
    for round in 0..20 {
        let name = format!("race:{round}");
        let mut tasks = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for j in 0..2 {
                let (node, name) = (node.clone(), name.clone());
                tasks.push(tokio::spawn(async move {
                    node.cursor_acquire(&name, &format!("node-{i}-{j}"), LONG)
                        .await
                        .unwrap()
                }));
            }
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap().is_some());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
