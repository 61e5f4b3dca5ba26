//! The floor under W5's crowd phase: what this machine spends, and what latency it reaches, to
//! push N events a second to C loopback TCP connections and read them back, with nothing of
//! Fathom in between: no HTTP, no JSON, no rules, no per-connection state, frames encoded once.
//! One broadcaster appends each event (a 300-byte line carrying its send instant) to a shared
//! buffer and, every `gather` milliseconds, hands the buffer to every connection's writer task,
//! which writes it with one syscall; C reader tasks (same process, other runtime) time each line.
//!
//! Run: `cargo run --release -p fathom-bench --example fanout_floor -- [connections] [rate]
//! [gather_ms] [seconds] [server_threads]` (defaults 10000 100 50 10 1). Prints delivery p50/p99/max and the CPU
//! time of the whole process per second.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let connections = args.first().copied().unwrap_or(10_000) as usize;
    let rate = args.get(1).copied().unwrap_or(100);
    let gather = Duration::from_millis(args.get(2).copied().unwrap_or(50));
    let seconds = args.get(3).copied().unwrap_or(10);
    let server_threads = args.get(4).copied().unwrap_or(1) as usize;
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .expect("server runtime");
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    let (tx, _) = broadcast::channel::<Arc<Vec<u8>>>(4096);
    let subscribe = tx.clone();
    let listener = server
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    server.spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut rx = subscribe.subscribe();
            tokio::spawn(async move {
                while let Ok(chunk) = rx.recv().await {
                    // What else is queued goes out in the same write.
                    let mut out = chunk.to_vec();
                    while let Ok(more) = rx.try_recv() {
                        out.extend_from_slice(&more);
                    }
                    if socket.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let readers: Vec<_> = (0..connections)
        .map(|i| {
            let local = format!("127.0.0.{}:0", 1 + i % 4);
            clients.spawn(async move {
                let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                socket
                    .bind(local.parse().expect("local"))
                    .expect("bind local");
                let Ok(mut stream) = socket.connect(address).await else {
                    return Histogram::<u64>::new(3).expect("histogram");
                };
                let mut histogram = Histogram::<u64>::new(3).expect("histogram");
                let mut buffer = vec![0u8; 64 * 1024];
                let mut carry = Vec::new();
                loop {
                    let n = match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return histogram,
                        Ok(n) => n,
                    };
                    let received = now_us();
                    carry.extend_from_slice(&buffer[..n]);
                    let mut start = 0;
                    while let Some(end) = carry[start..].iter().position(|b| *b == b'\n') {
                        let line = &carry[start..start + end];
                        if let Some(sent) = std::str::from_utf8(&line[..16.min(line.len())])
                            .ok()
                            .and_then(|t| t.trim().parse::<u64>().ok())
                        {
                            let _ = histogram.record(received.saturating_sub(sent));
                        }
                        start += end + 1;
                    }
                    carry.drain(..start);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let (cpu_start, wall_start) = (cpu_seconds(), Instant::now());
    server.block_on(async move {
        let mut pending = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
        let mut flush = tokio::time::interval(gather);
        let end = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < end {
            tokio::select! {
                _ = tick.tick() => {
                    let line = format!("{:016}{}\n", now_us(), "x".repeat(283));
                    pending.extend_from_slice(line.as_bytes());
                }
                _ = flush.tick() => {
                    if !pending.is_empty() {
                        let _ = tx.send(Arc::new(std::mem::take(&mut pending)));
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(tx);
    });
    let (cpu, wall) = (
        cpu_seconds() - cpu_start,
        wall_start.elapsed().as_secs_f64(),
    );
    server.shutdown_timeout(Duration::from_secs(1));
    let expected = connections as u64 * rate * seconds;
    let mut all = Histogram::<u64>::new(3).expect("histogram");
    let mut received = 0;
    for reader in readers {
        if let Ok(histogram) = clients.block_on(reader) {
            received += histogram.len();
            let _ = all.add(&histogram);
        }
    }
    println!(
        "{connections} connections, {rate} events/s, gather {} ms: {received} of {expected} deliveries; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; process CPU {:.2} s per s",
        gather.as_millis(),
        all.value_at_quantile(0.5) as f64 / 1000.0,
        all.value_at_quantile(0.99) as f64 / 1000.0,
        all.max() as f64 / 1000.0,
        cpu / wall
    );
}
