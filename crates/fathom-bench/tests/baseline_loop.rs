//! The tool end to end, in well under a second: the baseline server in-process on port 0,
//! seeded directly, then short closed-loop and open-loop runs against it over HTTP.

use std::sync::Arc;
use std::time::Duration;

use fathom_bench::baseline::{self, Db};
use fathom_bench::client::{expect_status, http_client};
use fathom_bench::data::mix;
use fathom_bench::loadgen::{self, Bounds, Load};
use fathom_bench::report::Summary;
use fathom_bench::seed::records;

#[tokio::test]
async fn loads_the_baseline_in_closed_and_open_loop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("baseline.db");
    let owners = vec!["owner-a".to_owned(), "owner-b".to_owned()];
    let ids =
        baseline::db::seed(&path, "full", records(500, &owners), 200, |_| {}).expect("seeded");
    assert_eq!(ids.len(), 500);
    let db = Db::open(&path, 2, "full").expect("opened");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baseline::serve(listener, db, async {
        let _ = stopped.await;
    }));
    let client = http_client().expect("client");

    // Closed loop: random existing ids, four workers, a third of a second.
    let ids = Arc::new(ids);
    let (get_client, get_base) = (client.clone(), base.clone());
    let get = move |n: u64| {
        let id = &ids[(mix(n) % ids.len() as u64) as usize];
        expect_status(get_client.get(format!("{get_base}/items/{id}")), 200)
    };
    let bounds = Bounds {
        duration: Duration::from_millis(300),
        max_requests: 100_000,
    };
    let closed = loadgen::run(Load::Closed { concurrency: 4 }, bounds, get).await;
    assert_eq!(closed.errors, 0, "{:?}", closed.first_error);
    let summary = Summary::from_outcome(&closed, None);
    assert!(summary.requests > 10, "{summary:?}");
    assert!(summary.throughput > 0.0 && summary.p50_ms > 0.0 && summary.max_ms >= summary.p95_ms);

    // Open loop: creates at 100 a second for 0.2 s, then a page of the owner's newest.
    let (post_client, post_base) = (client.clone(), base.clone());
    let create = move |n: u64| {
        let body = serde_json::json!({"title": format!("new {n}"), "status": "open",
            "team": "team-1", "priority": 9, "owner": "owner-c"});
        expect_status(
            post_client.post(format!("{post_base}/items")).json(&body),
            201,
        )
    };
    let load = Load::Open {
        rate_per_sec: 100.0,
        max_in_flight: 16,
    };
    let bounds = Bounds {
        duration: Duration::from_millis(200),
        max_requests: 1000,
    };
    let open = loadgen::run(load, bounds, create).await;
    assert_eq!((open.ok(), open.errors), (20, 0), "{:?}", open.first_error);

    let page: serde_json::Value = client
        .get(format!(
            "{base}/items?status=open&min_priority=9&owner=owner-c&limit=5"
        ))
        .send()
        .await
        .expect("page")
        .json()
        .await
        .expect("json");
    let page = page.as_array().expect("an array");
    assert_eq!(page.len(), 5);
    let created: Vec<&str> = page
        .iter()
        .map(|item| item["created_at"].as_str().expect("created_at"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let _ = stop.send(());
    server.await.expect("joined").expect("served");
}
