//! The bare fan-out floor (`fathom_bench::floor`) alone, to explore it: what this machine
//! spends, and the delivery latency it reaches, pushing events to many loopback sockets with
//! nothing of Fathom in between. W5 runs it after its crowd phase with the crowd's figures.
//!
//! Run: `cargo run --release -p fathom-bench --example fanout_floor -- [connections] [rate]
//! [gather_ms] [seconds] [writer_threads]` (defaults 10000 100 50 10 1).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use fathom_bench::floor::{self, FloorOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let options = FloorOptions {
        connections: usize::try_from(arg(0, 10_000))?,
        rate_per_sec: arg(1, 100) as f64,
        gather: Duration::from_millis(arg(2, 50)),
        seconds: arg(3, 10) as f64,
        locals: (1..=4)
            .map(|n| IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
            .collect(),
        server_threads: usize::try_from(arg(4, 1))?,
    };
    let run = floor::run(&options)?;
    println!(
        "{} connections, {} events/s, gather {} ms: {} of {} delivered; p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; process CPU {:.2} s per s",
        run.connections,
        run.rate_per_sec,
        run.gather_ms,
        run.delivered,
        run.expected,
        run.p50_ms,
        run.p95_ms,
        run.p99_ms,
        run.max_ms,
        run.cpu_per_sec.unwrap_or(f64::NAN)
    );
    Ok(())
}
