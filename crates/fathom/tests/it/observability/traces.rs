//! OpenTelemetry traces (built with the `otel` feature only): a `fathom serve` process exports
//! to a real OTLP/HTTP receiver in the test (`otlp.rs`). A write and an expanded read sent with
//! a caller's `traceparent` give server spans whose parent is the caller's span, database spans
//! beneath them, and a webhook delivery whose `traceparent` names its own client span; the log
//! lines of a traced request carry its trace id.

use std::path::Path;

use serde_json::{Value, json};

use super::otlp::{Collector, ReceivedSpan};
use crate::helpers::{
    ServerProcess, client_builder, scratch_database_blocking, spawn_server_process_with_env,
};
use crate::webhooks::crash::add_endpoint;
use crate::webhooks::receiver::Receiver;
use fathom_store::ScratchDatabase;

const SCHEMA: &str = r#"
[collections.customers]
rules = { list = true, view = true, create = true }
fields.name = { type = "text", required = true }

[collections.orders]
rules = { list = true, view = true, create = true }
fields.total = { type = "integer", required = true }
fields.customer = { type = "relation", collection = "customers" }
"#;

/// The caller's trace and its two spans (one per request), as a W3C `traceparent` has them.
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const WRITE_PARENT: &str = "00f067aa0ba902b7";
const READ_PARENT: &str = "a3ce929d0e0e4736";

/// OTLP `Span.kind` values.
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

fn traceparent(parent: &str) -> String {
    format!("00-{TRACE}-{parent}-01")
}

/// A project whose server exports traces to `collector`, may deliver webhooks to loopback and
/// has no data-API rate limits; on `database` when there is one (PostgreSQL).
fn write_project(dir: &Path, collector: &Collector, database: Option<&ScratchDatabase>) {
    std::fs::write(dir.join("fathom.schema.toml"), SCHEMA).unwrap();
    let url = database
        .map(|d| format!("[database]\nurl = \"{}\"\n", d.url()))
        .unwrap_or_default();
    std::fs::write(
        dir.join("fathom.toml"),
        format!(
            "{url}[webhooks]\nallow_networks = [\"127.0.0.0/8\"]\n[rate_limits]\nenabled = false\n[otel]\nendpoint = \"{}\"\nservice_name = \"fathom-under-test\"\n",
            collector.endpoint()
        ),
    )
    .unwrap();
}

/// The server, exporting its batches every 100 ms rather than every 5 s.
fn serve(dir: &Path) -> ServerProcess {
    spawn_server_process_with_env(dir, &[], &[("OTEL_BSP_SCHEDULE_DELAY", "100")])
}

async fn send(request: reqwest::RequestBuilder, status: u16) -> Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

/// Whether `ancestor` is `span`'s parent, grandparent, ... among `spans`.
fn descends_from(span: &ReceivedSpan, ancestor: &ReceivedSpan, spans: &[ReceivedSpan]) -> bool {
    let mut parent = span.parent_span_id();
    for _ in 0..16 {
        if parent == ancestor.span_id() {
            return true;
        }
        match spans.iter().find(|s| s.span_id() == parent) {
            Some(next) => parent = next.parent_span_id(),
            None => return false,
        }
    }
    false
}

fn server_span(spans: &[ReceivedSpan], parent: &str) -> Option<ReceivedSpan> {
    spans
        .iter()
        .find(|s| s.span.kind == SERVER && s.parent_span_id() == parent)
        .cloned()
}

fn db_spans_under(server: &ReceivedSpan, spans: &[ReceivedSpan]) -> Vec<ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.attribute("db.system").is_some() && descends_from(s, server, spans))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_and_an_expanded_read_are_traced_from_the_caller_to_the_database_and_the_webhook() {
    let database = tokio::task::spawn_blocking(scratch_database_blocking)
        .await
        .unwrap();
    let system = if database.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let collector = Collector::start().await;
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &collector, database.as_ref());
    let server = serve(dir.path());
    let client = client_builder().build().unwrap();
    add_endpoint(dir.path(), &receiver.url());

    let customer = send(
        client
            .post(server.url("/api/v1/customers"))
            .json(&json!({"name": "Ada"})),
        201,
    )
    .await;
    let customer_id = customer["data"]["id"].as_str().unwrap().to_owned();
    let order = send(
        client
            .post(server.url("/api/v1/orders"))
            .header("traceparent", traceparent(WRITE_PARENT))
            .json(&json!({"total": 42, "customer": customer_id})),
        201,
    )
    .await;
    let order_id = order["data"]["id"].as_str().unwrap().to_owned();
    let read_path = format!("/api/v1/orders/{order_id}");
    let read = send(
        client
            .get(server.url(&format!("{read_path}?expand=customer")))
            .header("traceparent", traceparent(READ_PARENT)),
        200,
    )
    .await;
    assert_eq!(read["data"]["expand"]["customer"]["name"], "Ada", "{read}");

    // The write: a server span continuing the caller's trace, with the HTTP conventions'
    // name and attributes (the route template, never the raw path, names it).
    let write = collector
        .wait_for("server span of the write", |spans| {
            server_span(spans, WRITE_PARENT)
        })
        .await;
    assert_eq!(write.trace_id(), TRACE);
    assert_eq!(write.service, "fathom-under-test");
    assert_eq!(write.name(), "POST /api/v1/{collection}");
    assert_eq!(
        write.attribute("http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        write.attribute("http.route").as_deref(),
        Some("/api/v1/{collection}")
    );
    assert_eq!(
        write.attribute("url.path").as_deref(),
        Some("/api/v1/orders")
    );
    assert_eq!(
        write.attribute("http.response.status_code").as_deref(),
        Some("201")
    );
    let insert = collector
        .wait_for("INSERT span under the write", |spans| {
            db_spans_under(&write, spans)
                .into_iter()
                .find(|s| s.attribute("db.operation.name").as_deref() == Some("INSERT"))
        })
        .await;
    assert_eq!(insert.span.kind, CLIENT);
    assert_eq!(insert.trace_id(), TRACE);
    assert_eq!(insert.name(), "INSERT orders");
    assert_eq!(insert.attribute("db.system").as_deref(), Some(system));
    assert_eq!(
        insert.attribute("db.collection.name").as_deref(),
        Some("orders")
    );

    // The expanded read: its own server span in the same trace, a SELECT of the order and
    // one of the expanded customer beneath it.
    let get = collector
        .wait_for("server span of the read", |spans| {
            server_span(spans, READ_PARENT)
        })
        .await;
    assert_eq!(get.trace_id(), TRACE);
    assert_eq!(get.name(), "GET /api/v1/{collection}/{id}");
    assert_eq!(get.attribute("url.path"), Some(read_path));
    assert_eq!(
        get.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    let selects = collector
        .wait_for(
            "SELECT spans of orders and customers under the read",
            |spans| {
                let selected: Vec<String> = db_spans_under(&get, spans)
                    .iter()
                    .filter(|s| s.attribute("db.operation.name").as_deref() == Some("SELECT"))
                    .filter_map(|s| s.attribute("db.collection.name"))
                    .collect();
                (selected.iter().any(|c| c == "orders")
                    && selected.iter().any(|c| c == "customers"))
                .then_some(selected)
            },
        )
        .await;
    assert!(selects.len() >= 2, "{selects:?}");

    // The webhook delivery of the order: its request carries a `traceparent` that names the
    // delivery's own client span.
    let delivered = receiver.wait_delivered(1, 20).await;
    let message = delivered
        .iter()
        .find(|m| m.json()["data"]["record"]["id"] == order_id.as_str())
        .expect("the order's event was delivered");
    let sent = message
        .traceparent
        .clone()
        .expect("the delivery carries traceparent");
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!(parts[0], "00");
    let (trace, span_id) = (parts[1].to_owned(), parts[2].to_owned());
    let delivery = collector
        .wait_for("span of the webhook delivery", |spans| {
            spans.iter().find(|s| s.span_id() == span_id).cloned()
        })
        .await;
    assert_eq!(delivery.trace_id(), trace);
    assert_eq!(delivery.span.kind, CLIENT);
    assert_eq!(delivery.name(), "POST");
    assert_eq!(
        delivery.attribute("http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        delivery.attribute("server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        delivery.attribute("server.port"),
        Some(receiver.address.port().to_string())
    );
    assert_eq!(
        delivery.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_line_of_a_traced_request_carries_its_trace_id() {
    let database = tokio::task::spawn_blocking(scratch_database_blocking)
        .await
        .unwrap();
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &collector, database.as_ref());
    let server = serve(dir.path());
    let client = client_builder().build().unwrap();
    send(
        client
            .get(server.url("/api/v1/orders"))
            .header("traceparent", traceparent(READ_PARENT)),
        200,
    )
    .await;
    let line = server.wait_for_log("request completed", 1);
    assert_eq!(line["span"]["trace_id"], TRACE, "{line}");
    // A request without a caller's trace starts one of its own, and its line names it too.
    send(client.get(server.url("/api/v1/customers")), 200).await;
    let line = server.wait_for_log("request completed", 2);
    let own = line["span"]["trace_id"].as_str().expect("a trace id");
    assert_eq!(own.len(), 32, "{line}");
    assert_ne!(own, TRACE);
    let root = collector
        .wait_for("server span of the untraced request", |spans| {
            spans
                .iter()
                .find(|s| s.span.kind == SERVER && s.trace_id() == own)
                .cloned()
        })
        .await;
    assert!(root.span.parent_span_id.is_empty(), "a root span");
}
