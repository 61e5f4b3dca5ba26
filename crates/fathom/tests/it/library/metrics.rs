//! After-commit hooks in `/metrics`: events handled and failed attempts per hook
//! (`fathom_after_commit_events_total`), and the outbox lag of the hooks this node runs beside
//! the other consumers' (`fathom_outbox_lag_events{consumer="hook:<name>"}`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;

use super::support::{Flaky, Recorder, Seen, outbox, spawn_built};
use crate::helpers::TEST_SCHEMA;
use crate::observability::metrics::scrape;

const EVENTS: &str = "fathom_after_commit_events_total";
const LAG: &str = "fathom_outbox_lag_events";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_commit_hooks_report_their_events_failures_and_lag() {
    let (flaky, categories) = (Seen::default(), Seen::default());
    let failures = Arc::new(AtomicU32::new(0));
    let app = spawn_built(
        TEST_SCHEMA,
        |c| c.metrics.listen = Some("127.0.0.1:0".into()),
        |b| {
            b.after_commit(
                "flaky",
                Flaky {
                    seen: flaky.clone(),
                    failures: failures.clone(),
                },
            )
            .after_commit_on(
                "categories-only",
                ["categories"],
                Recorder(categories.clone()),
            )
        },
    )
    .await;
    for i in 0..12 {
        app.create("notes", &json!({ "body": format!("note {i}") }))
            .await;
    }
    let events = outbox(&app).await;
    assert_eq!(events.len(), 12);
    flaky.wait_for(events.len()).await;
    // Both hooks run on this node; the one that takes no note moves past them once a page.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let exposition = loop {
        let (_, exposition) = scrape(&app).await;
        let caught_up = ["hook:flaky", "hook:categories-only"]
            .iter()
            .all(|consumer| exposition.value_or_zero(LAG, &[("consumer", consumer)]) == 0.0)
            && exposition.value_or_zero(EVENTS, &[("hook", "flaky"), ("outcome", "handled")])
                == 12.0;
        if caught_up || tokio::time::Instant::now() > deadline {
            break exposition;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let events_of = |hook: &str, outcome: &str| {
        exposition.value(EVENTS, &[("hook", hook), ("outcome", outcome)])
    };
    assert_eq!(events_of("flaky", "handled"), 12.0);
    let failed = f64::from(failures.load(Ordering::SeqCst));
    assert!(failed > 0.0, "the flaky hook failed some attempts");
    assert_eq!(events_of("flaky", "failed"), failed);
    assert_eq!(events_of("categories-only", "handled"), 0.0);
    assert_eq!(events_of("categories-only", "failed"), 0.0);
    for consumer in ["hook:flaky", "hook:categories-only", "realtime"] {
        assert_eq!(
            exposition.value(LAG, &[("consumer", consumer)]),
            0.0,
            "{consumer}"
        );
    }
    // The filtered hook counts the one event it takes.
    app.create("categories", &json!({ "name": "late" })).await;
    categories.wait_for(1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, exposition) = scrape(&app).await;
        let handled = exposition.value_or_zero(
            EVENTS,
            &[("hook", "categories-only"), ("outcome", "handled")],
        );
        if handled == 1.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "handled {handled}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
