//! The W5 (realtime) table and the outbox, encryption and cache cost tables, printed after a run and kept in
//! `docs/BENCHMARKS.md` beside the main table.

use std::fmt::Write as _;

use super::{markdown_table, number, thousands, times};
use crate::results::{
    AgainstMain, CacheCost, Delivery, EncryptionCost, OpsCost, PhaseCpu, RealtimeResults,
    ShapesCost, WorkloadResult,
};

/// How W5's delivery latency is measured (a note of every run that has W5).
pub const METHOD_NOTE: &str = "W5 delivery latency is the subscriber's receive instant minus the \
     event's `committed_at`, both on this machine's wall clock (server and subscribers run on the \
     same machine). `committed_at` is stamped in the writing transaction just before COMMIT, at \
     millisecond precision, so the figure includes the COMMIT (its fsync) and up to 1 ms of \
     truncation: it can only overstate. The subscribers (and their JSON reading) share the 2 CPUs \
     with the server and the writer.";

fn delivery_cells(d: &Delivery) -> Vec<String> {
    vec![
        number(d.p50_ms),
        number(d.p95_ms),
        number(d.p99_ms),
        number(d.max_ms),
        thousands(d.received as f64),
        d.lost.to_string(),
        d.out_of_order.to_string(),
        d.duplicates.to_string(),
        (d.ended_early + d.connect_failures).to_string(),
    ]
}

/// Server and bench CPU during a phase, as a share of one CPU ("85 % / 120 %").
fn cpu_cell(cpu: Option<&PhaseCpu>) -> String {
    cpu.filter(|c| c.seconds > 0.0).map_or_else(
        || "–".to_owned(),
        |c| {
            format!(
                "{:.0} % / {:.0} %",
                c.server_cpu_seconds / c.seconds * 100.0,
                c.bench_cpu_seconds / c.seconds * 100.0
            )
        },
    )
}

const DELIVERY_HEADER: [&str; 9] = [
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "delivered",
    "lost",
    "out of order",
    "dup",
    "failed",
];

/// The W5 table: one row per subscriber count, then the crowd, and the lines below it.
pub fn realtime_table(realtime: &RealtimeResults) -> String {
    let mut header = vec![
        "W5 phase",
        "subscribers (SSE + WS)",
        "creates/s",
        "create p99 ms",
        "CPU µs/create",
        "RSS MiB",
        "CPU server / bench",
    ];
    header.extend(DELIVERY_HEADER);
    let mut rows = Vec::new();
    for run in &realtime.bursts {
        let w = &run.writer;
        let mut row = vec![
            format!("burst of {}", realtime.burst),
            format!(
                "{} ({} + {})",
                thousands(run.subscribers as f64),
                run.sse,
                run.websocket
            ),
            thousands(w.throughput),
            number(w.p99_ms),
            w.server_cpu_us
                .map_or_else(|| "–".into(), |c| format!("{c:.0}")),
            w.rss_mib.map_or_else(|| "–".into(), |m| format!("{m:.1}")),
            cpu_cell(run.cpu.as_ref()),
        ];
        row.extend(if run.subscribers == 0 {
            vec![String::new(); DELIVERY_HEADER.len()]
        } else {
            delivery_cells(&run.delivery)
        });
        rows.push(row);
    }
    if let Some(crowd) = &realtime.crowd {
        let d = &crowd.delivery;
        let w = crowd.writer.as_ref();
        let mut row = vec![
            match w {
                Some(_) => format!("crowd, {:.0} creates/s", crowd.rate_per_sec),
                None => "crowd, one probe".to_owned(),
            },
            format!(
                "{} ({} + {})",
                thousands(d.subscribers as f64),
                crowd.sse,
                crowd.websocket
            ),
            w.map_or_else(|| "–".into(), |w| thousands(w.throughput)),
            w.map_or_else(|| "–".into(), |w| number(w.p99_ms)),
            w.and_then(|w| w.server_cpu_us)
                .map_or_else(|| "–".into(), |c| format!("{c:.0}")),
            crowd
                .rss_held_mib
                .map_or_else(|| "–".into(), |m| format!("{m:.1}")),
            cpu_cell(crowd.cpu.as_ref()),
        ];
        row.extend(delivery_cells(d));
        rows.push(row);
    }
    let mut out = markdown_table(&header, &rows, 2);
    let writers = if realtime.writers == 1 {
        "one worker".to_owned()
    } else {
        format!("{} workers", realtime.writers)
    };
    let _ = writeln!(
        out,
        "\n- Bursts: the writer ({writers}, closed loop) creates {} items as fast as it can while \
         the subscribers (each one connection with one subscription to the whole `items` \
         collection, as the administrator) receive them; {} alternating round(s) per subscriber \
         count, figures added up. `delivered` counts events received in order over all \
         subscribers; `lost` = expected − delivered; `failed` = connections that did not go live \
         or ended early. `CPU server / bench`: CPU time of the server and of the bench process (writer \
         and subscribers) from the first create to the last delivery, as a share of one CPU (2 \
         CPUs = 200 %). The writer runs on a runtime and thread of its own. Subscribers connect \
         from {} local address(es) (127.0.0.1 …).",
        realtime.burst, realtime.rounds, realtime.local_addresses
    );
    for problem in realtime
        .bursts
        .iter()
        .flat_map(|r| [&r.delivery.first_end, &r.delivery.first_connect_error])
        .chain(
            realtime
                .crowd
                .iter()
                .flat_map(|c| [&c.delivery.first_end, &c.delivery.first_connect_error]),
        )
        .flatten()
        .take(3)
    {
        let _ = writeln!(out, "- A subscriber's problem: {problem}");
    }
    if let Some(crowd) = &realtime.crowd {
        let mib = |v: Option<f64>| v.map_or_else(|| "?".into(), |m| format!("{m:.1} MiB"));
        let _ = writeln!(
            out,
            "- Crowd: {} connections opened in {:.1} s, held idle {:.0} s; server RSS {} before, \
             {} held; {} still open delivered a probe create. Then {:.0} creates a second, \
             delivered to every open connection (the latencies include the probe).",
            thousands(crowd.asked as f64),
            crowd.connect_seconds,
            crowd.idle_seconds,
            mib(crowd.rss_before_mib),
            mib(crowd.rss_held_mib),
            thousands(crowd.held as f64),
            crowd.rate_per_sec
        );
        if let Some(f) = &crowd.floor {
            let _ = writeln!(
                out,
                "- Bare fan-out floor, same run, after the crowd (`floor.rs`): {} loopback TCP \
                 connections read by the bench, {:.0} 300-byte lines a second for as long, \
                 handed to every connection every {:.0} ms as one pre-encoded buffer (one write \
                 each), no HTTP, JSON or rules: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max \
                 {:.1} ms; {} of {} delivered; the bench process used {} CPU-seconds a second. \
                 A latency this floor cannot reach on this machine, no server can.",
                thousands(f.connections as f64),
                f.rate_per_sec,
                f.gather_ms,
                f.p50_ms,
                f.p95_ms,
                f.p99_ms,
                f.max_ms,
                thousands(f.delivered as f64),
                thousands(f.expected as f64),
                f.cpu_per_sec
                    .map_or_else(|| "?".into(), |c| format!("{c:.2}"))
            );
        }
    }
    out
}

/// The outbox's write cost: W1 on main as it was before the outbox, and on this build.
pub fn outbox_cost_table(cost: &AgainstMain) -> String {
    let mut out = two_servers_table(
        &cost.rows,
        [
            "main before the outbox",
            "this build (outbox)",
            "this build / before",
        ],
    );
    let _ = writeln!(
        out,
        "\n- Both servers fresh and empty, same settings, taking turns round by round; the \
         before-binary is main at {}.",
        cost.main_commit
            .as_deref()
            .unwrap_or("an unrecorded commit")
    );
    out
}

/// The records engine's cost: W1–W4 on main as it was before the engine, and on this build.
pub fn engine_cost_table(cost: &AgainstMain) -> String {
    let mut out = two_servers_table(
        &cost.rows,
        [
            "main before the engine",
            "this build (engine)",
            "this build / before",
        ],
    );
    let _ = writeln!(
        out,
        "\n- Both servers fresh, with the same settings, users and seeded rows, taking turns \
         round by round; the before-binary is main at {}.",
        cost.main_commit
            .as_deref()
            .unwrap_or("an unrecorded commit")
    );
    out
}

/// The cost of encrypted fields on W1 and W2, and the rotation's speed.
pub fn encryption_cost_table(cost: &EncryptionCost) -> String {
    let mut out = two_servers_table(
        &cost.rows,
        [
            "fields in clear",
            "title and team encrypted (team blind-indexed)",
            "encrypted / clear",
        ],
    );
    let r = &cost.rotation;
    let _ = writeln!(
        out,
        "\n- Both servers of this build, fresh, seeded alike, taking turns round by round.\n- \
         `fathom keys rotate-data --batch 500` under a new key while the encrypted server served: \
         {} records in {:.1} s, **{} records/s**.",
        thousands(r.records as f64),
        r.seconds,
        thousands(r.records_per_second)
    );
    out
}

/// The cost of each operations feature on W2.
pub fn ops_cost_table(cost: &OpsCost) -> String {
    let mut out = two_servers_table(&cost.rows, ["all off", "this one on", "on / off"]);
    let _ = writeln!(
        out,
        "\n- Servers of this build, fresh, seeded alike; each feature's server takes turns with \
         the same all-off server, round by round. Rate limits count every read against a quota \
         it never reaches."
    );
    out
}

/// W3 with `count=true` (and W2) with and without the result cache.
pub fn cache_cost_table(cost: &CacheCost) -> String {
    let mut out = two_servers_table(
        &cost.rows,
        [
            "no cache",
            "items with cache = \"30s\"",
            "cached / uncached",
        ],
    );
    let _ = writeln!(
        out,
        "\n- Both servers of this build, fresh, seeded alike, taking turns round by round; no \
         writes run meanwhile, so after its first round the cached server answers every page \
         from memory (the hit rate of a read-only workload; each write would drop the pages)."
    );
    out
}

/// W2 and W3 with and without query-shape recording.
pub fn shapes_cost_table(cost: &ShapesCost) -> String {
    let mut out = two_servers_table(&cost.rows, ["recording off", "recording on", "on / off"]);
    let _ = writeln!(
        out,
        "\n- Both servers of this build, fresh, seeded alike, taking turns round by round; the \
         one recording shapes has `[architect]` at its defaults, the other \
         `record_shapes = false`."
    );
    out
}

/// Rows of workloads run against two servers (`baseline` first, then `fathom`, then the ratio),
/// labelled `[baseline, fathom, ratio]`.
fn two_servers_table(rows_in: &[WorkloadResult], labels: [&str; 3]) -> String {
    let header = [
        "workload",
        "server",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "CPU µs/req",
    ];
    let mut rows = Vec::new();
    for row in rows_in {
        let cells = |server: &str, s: &crate::report::Summary| {
            vec![
                String::new(),
                server.to_owned(),
                thousands(s.throughput),
                number(s.p50_ms),
                number(s.p95_ms),
                number(s.p99_ms),
                s.errors.to_string(),
                s.server_cpu_us
                    .map_or_else(|| "–".into(), |c| format!("{c:.0}")),
            ]
        };
        if let Some(baseline) = &row.baseline {
            let mut first = cells(labels[0], baseline);
            first[0] = format!("{} {}, {}", row.id, row.name, row.load);
            rows.push(first);
            rows.push(cells(labels[1], &row.fathom));
            if let Some(r) = &row.ratio {
                rows.push(vec![
                    String::new(),
                    labels[2].to_owned(),
                    times(r.throughput),
                    times(r.p50),
                    times(r.p95),
                    times(r.p99),
                    String::new(),
                    times(r.cpu),
                ]);
            }
        }
    }
    markdown_table(&header, &rows, 2)
}
